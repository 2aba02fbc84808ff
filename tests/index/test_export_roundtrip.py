"""``heroes hashes export``: import -> export -> import loses nothing (VICS JSON and CSV)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from heroes.cli import main
from index.hashsets.errors import HashSetError
from index.hashsets.export import export_list, file_settings
from index.hashsets.feedback import DecisionStore, Hit, decisions_path
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore, membership_path
from index.hashsets.registry import HASH_TYPES

MEDIA_TYPES = ("md5", "sha1", "sha256", "pdq", "vpdq")
SETTINGS = {"source": "unit A, lab exchange", "trust": "high", "distance": 24, "state": "paused"}


def example(type_name: str, n: int = 0) -> str:
    """The n-th good example value of a type, normalised."""
    good = HASH_TYPES.get(type_name).good
    return good[n % len(good)][1]


def keep(docs: list[object]) -> int:
    return len(docs)


def entries(members: MembershipStore, name: str) -> set[tuple[str, str, str, str]]:
    rows = [r for r in members.lists() if r.list == name]
    return {
        (e.type, e.value, e.category, e.entry)
        for r in rows
        for e in members.entries_of_type(r.type)
        if e.list == name
    }


def source_csv(path: Path, types: tuple[str, ...]) -> Path:
    """A CSV list with one value of each type, some sharing an entry, with categories."""
    lines = ["value,type,category,id"]
    for n, type_name in enumerate(types):
        entry = "media-1" if type_name in ("md5", "sha1") else f"entry-{n}"
        category = ("", f"cat {n % 2}", "2")[n % 3]  # VICS categories are numbers
        value = example(type_name).replace('"', '""')
        lines.append(f'"{value}",{type_name},{category},{entry}')
    path.write_text("\n".join(lines) + "\n")
    return path


def store(path: Path) -> MembershipStore:
    return MembershipStore(membership_path(path))


@pytest.mark.parametrize("fmt", ["csv", "vics"])
def test_import_export_import_loses_nothing(tmp_path: Path, fmt: str) -> None:
    types = tuple(t.name for t in HASH_TYPES) if fmt == "csv" else tuple(
        t for t in MEDIA_TYPES if t in HASH_TYPES)
    first = store(tmp_path / "one")
    import_file(source_csv(tmp_path / "src.csv", types), first, keep, list_name="exchange")
    first.set_list("exchange", **SETTINGS)
    original = entries(first, "exchange")
    assert {t for t, *_ in original} == set(types)

    exported = tmp_path / f"exchange.{'json' if fmt == 'vics' else 'csv'}"
    with exported.open("w", encoding="utf-8", newline="") as out:
        report = export_list(first, "exchange", fmt, out)
    assert report.written == len(original) and not report.left_out
    assert file_settings(exported, fmt) == SETTINGS | {"kind": "flag"}

    second = store(tmp_path / "two")
    again = import_file(
        exported, second, keep, list_name="exchange", fmt=fmt,
        list_settings=file_settings(exported, fmt) if fmt == "vics" else None,
    )
    assert again.bad == 0, again.problems
    assert entries(second, "exchange") == original
    assert second.list_info("exchange") == first.list_info("exchange")

    # And once more: the second export is the first, byte for byte.
    twice = io.StringIO()
    export_list(second, "exchange", fmt, twice)
    assert twice.getvalue() == exported.read_text(encoding="utf-8")
    first.close()
    second.close()


def test_vics_names_what_it_cannot_carry(tmp_path: Path) -> None:
    members = store(tmp_path)
    import_file(source_csv(tmp_path / "src.csv", ("md5", "btc", "keyword", "email")), members,
                keep, list_name="mixed")
    out = io.StringIO()
    report = export_list(members, "mixed", "vics", out)
    assert report.written == 1 and report.left_out == {"btc": 1, "keyword": 1, "email": 1}
    assert [m["MD5"] for m in json.loads(out.getvalue())["value"]] == [example("md5")]
    with pytest.raises(HashSetError, match="no list named 'nope'"):
        export_list(members, "nope", "csv", io.StringIO())
    members.close()


def test_cli_export_carries_precision_and_reimports(tmp_path: Path) -> None:
    data = tmp_path / "data"
    src = source_csv(tmp_path / "src.csv", ("md5", "sha256", "pdq", "infohash"))
    runner = CliRunner()
    base = ["--data-dir", str(data), "hashes"]
    assert runner.invoke(main, [*base, "import", str(src), "--list", "lab"]).exit_code == 0
    decisions = DecisionStore(decisions_path(data))
    decisions.decide(Hit("page", "p1", "lab", "md5", example("md5")), "confirmed", user="alice")
    decisions.decide(Hit("page", "p2", "lab", "md5", example("md5")), "false_positive",
                     user="alice")
    decisions.close()

    vics = tmp_path / "lab.json"
    done = runner.invoke(main, [*base, "export", "lab", "--out", str(vics)])
    assert done.exit_code == 1  # the infohash has no place in VICS, and the user is told
    assert "left out (VICS has no place for them; use --format csv): 1 infohash" in done.stderr
    head = json.loads(vics.read_text())["heroes.list"]
    assert head["precision"] == {"name": "lab", "confirmed": 1, "false_positive": 1,
                                 "decided": 2, "precision": 0.5}

    table = tmp_path / "lab.csv"
    done = runner.invoke(main, [*base, "export", "lab", "--format", "csv", "--out", str(table)])
    assert done.exit_code == 0, done.output
    assert "list_confirmed,list_false_positive" in table.read_text()
    fresh = ["--data-dir", str(tmp_path / "fresh"), "hashes"]
    back = runner.invoke(main, [*fresh, "import", str(table), "--list", "lab"])
    assert back.exit_code == 0, back.output
    a, b = store(data), store(tmp_path / "fresh")
    assert entries(a, "lab") == entries(b, "lab") and len(entries(b, "lab")) == 4
    a.close()
    b.close()
    missing = runner.invoke(main, [*base, "export", "nope", "--out", str(tmp_path / "x.csv")])
    assert missing.exit_code == 2 and "no list named 'nope'" in missing.output
    assert not (tmp_path / "x.csv").exists()
