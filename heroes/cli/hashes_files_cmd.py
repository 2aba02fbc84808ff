"""``heroes hashes compute|add|check``: hash local files as the crawler does, list and test them.

The hashes are the crawler's own (:func:`crawler.extract.media.hash_media`: MD5, SHA-1,
SHA-256 of any file; PDQ, its quality and the 8 dihedral hashes of an image; vPDQ of a
video), so a list prepared here matches what the crawler finds. ``add`` goes through the
list importer (a CSV of the files' hashes, one entry per file named after it); ``check``
through the drain's matcher (:class:`index.matching_index.FlaggedIndex` and, for videos,
:class:`index.matching_vpdq.VpdqMatcher`), suppression by negative lists included. The
files are read into memory and never written anywhere. Reads ``data_dir``, ``matching``,
``index.max_document_bytes`` and ``crawler.video_max_seconds`` / ``video_max_frames``.
"""

from __future__ import annotations

import csv
import json
import mimetypes
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from config import Settings
from crawler.extract.media import MediaHashes, hash_media
from crawler.extract.pdq import PDQ_TRANSFORMS
from crawler.extract.video import VideoLimits
from documents import Match, Page, utcnow
from documents.page import Media
from heroes.cli.app import EXIT_PROBLEMS, EXIT_USER, Context, fail, pass_context
from heroes.cli.hashes_cmd import hashes_group
from index.hashsets.errors import HashSetError
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore, membership_path
from index.hashsets.registry import HASH_TYPES
from index.matching_fields import probes_of
from index.matching_index import FlaggedIndex
from index.matching_vpdq import VpdqMatcher
from index.store import Store

# Hash columns of the CSV that ``add`` imports, in this order; vpdq when the type exists.
ADD_TYPES = ("md5", "sha1", "sha256", "pdq", "vpdq")
FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


def compute_file(path: Path, settings: Settings) -> MediaHashes:
    """The crawler's hashes of one local file (its video limits, no size cap: the whole
    file is hashed); UserError when it cannot be read."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    content_type = mimetypes.guess_type(path.name)[0] or ""
    crawler = settings.crawler
    limits = VideoLimits(crawler.video_max_seconds, crawler.video_max_frames)
    return hash_media(body, content_type, video=limits)


def _as_json(path: Path, hashes: MediaHashes) -> dict[str, Any]:
    return {"file": str(path), **hashes.to_dict()}


def _as_text(path: Path, hashes: MediaHashes) -> list[str]:
    data = hashes.to_dict()
    lines = [f"{path}", f"  kind     {data.get('kind', '')}", f"  size     {hashes.size}"]
    if data.get("truncated"):
        lines.append("  truncated: the hashes are of the first bytes only")
    lines += [f"  md5      {hashes.md5}", f"  sha1     {hashes.sha1}",
              f"  sha256   {hashes.sha256}"]
    if hashes.pdq:
        lines.append(f"  pdq      {hashes.pdq}  quality {hashes.pdq_quality}")
    for name, value in zip(PDQ_TRANSFORMS[1:], (hashes.pdq_dihedral or [])[1:], strict=False):
        lines.append(f"  pdq.{name:<11} {value}")
    frames = data.get("vpdq") or []
    if frames:
        duration = data.get("duration_s")
        lines.append(f"  vpdq     {len(frames)} frames"
                     + (f" over {duration:.1f} s" if duration is not None else ""))
        lines += [f"    {f['t']:8.3f} s  {f['pdq']}  quality {f['q']}" for f in frames]
    if data.get("error"):
        lines.append(f"  error    {data['error']}")
    return lines


@hashes_group.command("compute")
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def compute_cmd(ctx: Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Print every hash the crawler computes for each FILE (image, video or any file).

    MD5, SHA-1 and SHA-256 always; for an image PDQ with its quality and the hashes of
    the image turned and mirrored (pdq.rot90 ... pdq.flipMinus1); for a video vPDQ, one
    PDQ hash per second. Nothing is written anywhere.
    """
    results = [(path, compute_file(path, ctx.settings)) for path in files]
    if as_json:
        click.echo(json.dumps([_as_json(p, h) for p, h in results], indent=2))
        return
    for path, hashes in results:
        click.echo("\n".join(_as_text(path, hashes)))


def _add_rows(files: list[tuple[Path, MediaHashes]], category: str) -> list[list[str]]:
    types = [t for t in ADD_TYPES if t in HASH_TYPES]
    rows = [["id", "category", *types]]
    for path, hashes in files:
        data = hashes.to_dict()
        cells = []
        for t in types:
            value = data.get(t)
            cells.append(json.dumps(value) if t == "vpdq" and value else (value or ""))
        rows.append([path.name, category, *cells])
    return rows


@hashes_group.command("add")
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option("--list", "list_name", required=True, help="The list to add the files' hashes to.")
@click.option("--category", default="", help="Category of the entries.")
@pass_context
def add_cmd(ctx: Context, files: tuple[Path, ...], list_name: str, category: str) -> None:
    """Compute the hashes of each FILE and add them to a list, one entry per file.

    The entry id is the file name; its values are its MD5, SHA-1, SHA-256 and PDQ (images)
    or vPDQ (videos). They are imported as `heroes hashes import` imports a list: adding
    the same file again changes nothing.
    """
    settings = ctx.settings
    hashed = [(path, compute_file(path, settings)) for path in files]
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    problems: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="heroes-add-") as tmp:
            # The importer reads files: a CSV of hashes (never the media) is its input.
            table = Path(tmp) / "hashes.csv"
            with table.open("w", newline="", encoding="utf-8") as out:
                csv.writer(out, lineterminator="\n").writerows(_add_rows(hashed, category))

            def on_problem(problem: str) -> None:
                # "TABLE:LINE: what": line n + 1 of the table is the n-th file.
                line, _, what = problem.removeprefix(f"{table}:").partition(":")
                n = int(line) - 1 if line.isdigit() else 0
                where = files[n - 1] if 1 <= n <= len(files) else "input"
                problems.append(f"{where}: {what.strip()}")

            report = import_file(
                table,
                members,
                store.append,
                list_name=list_name,
                fmt="csv",
                max_document_bytes=settings.index.max_document_bytes,
                on_problem=on_problem,
            )
    except HashSetError as exc:
        fail(str(exc))
    finally:
        members.close()
        store.close()
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(
        f"list {report.list}: {len(files)} files, {report.imported} values added or changed, "
        f"{report.unchanged} unchanged, {report.bad} problems"
    )
    if report.bad:
        raise SystemExit(EXIT_PROBLEMS if report.good else EXIT_USER)


@dataclass
class FileCheck:
    """What the drain's matcher says of one file."""

    hits: list[Match] = field(default_factory=list)
    suppressed: list[tuple[Match, str]] = field(default_factory=list)  # and the negative list


def check_files(
    members: MembershipStore, settings: Any, files: list[tuple[Path, MediaHashes]]
) -> list[FileCheck]:
    """The drain matcher's verdict on each file, in file order."""
    media = [
        Media(url=str(path), **{k: v for k, v in h.to_dict().items() if k in Media.model_fields})
        for path, h in files
    ]
    page = Page(url="http://localhost/", fetched_at=utcnow(), media=media)
    index = FlaggedIndex(members, settings)
    index.load()
    found = [FileCheck() for _ in files]
    outcome = index.match_all(probes_of(page))
    for hit in outcome.hits:
        if hit.probe.media is not None:
            found[hit.probe.media].hits.append(hit.match)
    for held in outcome.suppressed:
        if held.hit.probe.media is not None:
            found[held.hit.probe.media].suppressed.append((held.hit.match, held.by))
    videos = VpdqMatcher(members, settings)
    videos.load()
    for i, match in videos.matches_for_page(page):
        found[i].hits.append(match)
    return found


def _describe(match: Match) -> str:
    how = [match.type]
    if match.distance is not None:
        how.append(f"distance {match.distance}")
    if match.transform:
        how.append(f"as {match.transform}")
    if match.query_fraction is not None:
        how.append(f"{match.query_fraction:.0%} of the video, {match.entry_fraction or 0:.0%} "
                   "of the entry")
    return f"{match.list} ({', '.join(how)})" + (f" entry {match.entry}" if match.entry else "")


@hashes_group.command("check")
@click.argument("files", nargs=-1, required=True, type=FILES)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def check_cmd(ctx: Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Say which lists each FILE hits, and at what distance, as the crawler's matching would.

    Hits a negative list suppresses are shown as such and do not count. Exit 0 when some
    file hits a list, 1 when none does (like grep), 2 on bad input.
    """
    settings = ctx.settings
    hashed = [(path, compute_file(path, ctx.settings)) for path in files]
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        found = check_files(members, settings.matching, hashed)
    except HashSetError as exc:
        fail(str(exc))
    finally:
        members.close()
    if as_json:
        click.echo(json.dumps(
            [
                {
                    "file": str(p),
                    "hits": [m.model_dump(exclude_none=True) for m in c.hits],
                    "suppressed": [
                        {**m.model_dump(exclude_none=True), "by": by} for m, by in c.suppressed
                    ],
                }
                for (p, _), c in zip(hashed, found, strict=True)
            ],
            indent=2,
        ))
    else:
        for (path, _), checked in zip(hashed, found, strict=True):
            for m in checked.hits:
                click.echo(f"{path}: {_describe(m)}")
            for m, by in checked.suppressed:
                click.echo(f"{path}: {_describe(m)} suppressed by negative list {by}")
            if not checked.hits:
                click.echo(f"{path}: no hit")
    if not any(c.hits for c in found):
        raise SystemExit(EXIT_PROBLEMS)
