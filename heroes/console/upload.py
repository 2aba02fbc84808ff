"""Hash-list import by upload: the same importer, formats and line-numbered errors as
``heroes hashes import``, MISP events and STIX bundles included (``format`` misp or stix:
the list's source names the event or bundle, and the values of types no list holds are
counted in the answer).

The upload is written to a private temporary directory under ``<data_dir>/console/uploads``
with its original file name (the suffix picks the format, as on the command line), imported
into the membership store and the spool, then deleted. A file with some bad lines is
imported with its problems listed (the first ``MAX_LISTED``, and their count; the console
answers 400 with that report); a file with no good value, or one that cannot be read at all,
is a :class:`RequestError` (HTTP 400) whose message lists the problems. Reads the data directory and
``index.max_document_bytes`` (passed in).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from documents import Document
from exchange.importing import EXCHANGE_FORMATS, import_exchange
from heroes.console.searchreq import RequestError
from index.hashsets.cluster_lists import ClusterLists
from index.hashsets.errors import HashSetError
from index.hashsets.importer import FORMATS, MAX_DOCUMENT_BYTES, import_file
from index.hashsets.membership import MembershipStore, membership_path
from index.hashsets.registry import HASH_TYPES
from index.hunt.targets import hunt_command

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LISTED = 1000  # problems listed in one answer; the count covers them all
UPLOAD_FORMATS = (*FORMATS, *EXCHANGE_FORMATS)


def safe_filename(name: str) -> str:
    """The uploaded name reduced to a harmless base name (never a path)."""
    base = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip("._") or "upload"
    return base[:100]


def import_upload(
    data_dir: Path,
    append: Callable[[Iterable[Document]], int],
    *,
    filename: str,
    content: bytes,
    list_name: str = "",
    fmt: str = "",
    type_name: str = "",
    category: str = "",
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    cluster: ClusterLists | None = None,
) -> dict[str, Any]:
    """Import uploaded bytes; returns the import report (problems name the uploaded file).

    With ``cluster`` (hash lists that live in the cluster) the imported list is published
    there, as ``heroes hashes import`` does, so every machine's matching follows it.
    """
    if fmt and fmt not in UPLOAD_FORMATS:
        raise RequestError("format", f"{fmt!r} is not one of {', '.join(UPLOAD_FORMATS)}")
    if type_name and fmt in EXCHANGE_FORMATS:
        raise RequestError("type", f"a type does not apply to {fmt}: each value's type comes "
                           "from the file")
    if type_name and type_name not in HASH_TYPES.names():
        raise RequestError("type", f"{type_name!r} is not one of {', '.join(HASH_TYPES.names())}")
    if not content:
        raise RequestError("file", "the uploaded file is empty")
    name = safe_filename(filename)
    root = Path(data_dir) / "console" / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=root))
    members = MembershipStore(membership_path(data_dir))
    listed: list[str] = []
    prefix = str(workdir) + "/"

    def note(problem: str) -> None:
        if len(listed) < MAX_LISTED:
            listed.append(problem.replace(prefix, ""))

    exchanged: dict[str, Any] = {}
    try:
        path = workdir / name
        path.write_bytes(content)
        if fmt in EXCHANGE_FORMATS:
            result = import_exchange(
                path, fmt, members, append, list_name=list_name, category=category,
                max_document_bytes=max_document_bytes, on_problem=note)
            report = result.report
            exchanged = {"source": result.source, "objects": result.objects,
                         "not_imported": result.skipped_text if result.skipped else ""}
        else:
            report = import_file(
                path,
                members,
                append,
                list_name=list_name,
                fmt=fmt,
                type_name=type_name,
                category=category,
                max_document_bytes=max_document_bytes,
                on_problem=note,
            )
        if cluster is not None and report.good:
            cluster.publish(members, report.list)
    except HashSetError as exc:
        raise RequestError("file", str(exc).replace(prefix, "")) from exc
    finally:
        members.close()
        shutil.rmtree(workdir, ignore_errors=True)
    more = f"\n(and {report.bad - len(listed)} more)" if report.bad > len(listed) else ""
    if report.bad and not report.good:
        raise RequestError("file", "no value could be imported:\n" + "\n".join(listed) + more)
    return {
        "file": name,
        "list": report.list,
        "read": report.read,
        "imported": report.imported,
        "unchanged": report.unchanged,
        "problems": listed,
        "problem_count": report.bad,
        # What was indexed before the list is not matched at ingest: the command that is.
        "hunt": hunt_command(report.list),
        **exchanged,
    }
