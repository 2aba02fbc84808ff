"""Video entries of hash lists: vPDQ in VICS media entries and in ThreatExchange vPDQ files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from documents import FlaggedHash
from identifiers.vpdq import VpdqFrame, canonical, frames_of
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore

A, B, C = "f0" * 32, "0f" * 32, "3c" * 32
CANON = f"{A},90,0.000;{B},80,1.000"


class Spooled:
    def __init__(self) -> None:
        self.docs: list[FlaggedHash] = []

    def __call__(self, docs: object) -> int:
        self.docs.extend(docs)  # type: ignore[arg-type]
        return len(self.docs)


@pytest.fixture
def members(tmp_path: Path) -> MembershipStore:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    yield store
    store.close()


def _vics(path: Path, *entries: dict) -> Path:
    head = '{"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/'
    body = ",\n".join(json.dumps(e) for e in entries)
    path.write_text(f'{head}Default/$metadata#Media",\n"value": [\n{body}\n]}}\n')
    return path


def test_vics_video_entries_import_as_vpdq_in_every_spelling(
    tmp_path: Path, members: MembershipStore
) -> None:
    objects = [{"t": 2, "pdq": C, "q": 70}, {"t": 0.0, "pdq": A.upper(), "q": 90}]
    path = _vics(
        tmp_path / "videos.json",
        {"MediaID": 1, "Category": 1, "MD5": "0" * 32, "MimeType": "video/mp4",
         "Hashes": [{"HashName": "vPDQ", "HashValue": CANON}]},
        {"MediaID": 2, "Hashes": [{"HashName": "VPDQ", "HashValue": objects}]},
        {"MediaID": 3, "Hashes": [{"HashName": "vpdq", "HashValue": json.dumps(
            [f"{C},70,2", f"{B},80,1"])}]},
        {"MediaID": 4, "Hashes": [{"HashName": "vPDQ", "HashValue": f"{A},90,0;{C[:-2]},70,2"}]},
        {"MediaID": 5, "Hashes": [{"HashName": "vPDQ", "HashValue": 7}]},
    )
    spooled = Spooled()
    report = import_file(path, members, spooled, list_name="videos")
    got = {(e.type, e.entry): e.value for e in members.entries_of_type("vpdq")}
    assert got == {
        ("vpdq", "1"): CANON,
        ("vpdq", "2"): f"{A},90,0.000;{C},70,2.000",
        ("vpdq", "3"): f"{B},80,1.000;{C},70,2.000",
    }
    assert members.lookup("md5", "0" * 32)[0].entry == "1"
    assert {d.type for d in spooled.docs} == {"md5", "vpdq"}
    [bad_frame, not_text] = report.problems
    assert bad_frame.startswith(f"{path}:6: ") and "vPDQ frame 2: the PDQ hash must be 64 hex" in (
        bad_frame) and repr(C[:-2]) in bad_frame
    assert not_text.startswith(f"{path}:7: ") and "HashValue is not a string: 7" in not_text


def _te_file(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def test_a_vpdq_file_is_one_entry_its_bad_lines_named_and_good_frames_kept(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = _te_file(tmp_path / "clip-17.vpdq", [
        f"0,90,{A},0.000",
        f"1,101,{B},1.000",  # quality out of range
        "2,80,nothex,2.000",
        f"x,80,{B},3.000",
        f"4,80,{B}",
        "",
        f"5,80,{B.upper()},5.000",
    ])
    report = import_file(path, members, Spooled(), list_name="videos")
    [entry] = members.entries_of_type("vpdq")
    assert (entry.entry, entry.value) == ("clip-17", f"{A},90,0.000;{B},80,5.000")
    assert [p.split(": ", 1)[0] for p in report.problems] == [
        f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5"]
    assert "quality must be an integer 0..100, got '101'" in report.problems[0]
    assert "64 hex digits, got 'nothex'" in report.problems[1]
    assert "frame number must be a whole number, got 'x'" in report.problems[2]
    assert "(4 fields), got 3" in report.problems[3]
    # The same file again changes nothing.
    again = import_file(path, members, Spooled(), list_name="videos")
    assert (again.imported, again.unchanged) == (0, 1)


def test_a_vpdq_file_may_carry_list_settings_and_a_bad_one_is_named(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = _te_file(tmp_path / "clip.vpdq", ["#! distance: 12", "#! state: resting",
                                             f"0,90,{A},0.000"])
    report = import_file(path, members, Spooled(), list_name="videos")
    assert report.imported == 1 and members.list_info("videos").distance == 12
    [problem] = report.problems
    assert problem.startswith(f"{path}:2: ") and "'resting'" in problem


def test_a_te_txt_output_needs_the_format_and_an_empty_one_yields_nothing(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = _te_file(tmp_path / "clip.txt", [f"0,90,{A},0.000"])
    assert import_file(path, members, Spooled(), fmt="vpdq").imported == 1
    empty = _te_file(tmp_path / "none.vpdq", ["0,90,zz,0"])
    report = import_file(empty, members, Spooled())
    assert report.imported == 0 and len(report.problems) == 1


def test_the_vpdq_value_type_orders_frames_and_quotes_bad_values() -> None:
    frames = frames_of(f"{B},80,1;{A},90,0")
    assert frames == (VpdqFrame(0.0, A, 90), VpdqFrame(1.0, B, 80))
    assert canonical(frames) == CANON
    assert frames_of([{"t": 1, "pdq": B, "q": 80}, f"{A},90,0"]) == frames
    from identifiers import InvalidIdentifier

    with pytest.raises(InvalidIdentifier, match=r"vPDQ frame 1 lacks q"):
        frames_of([{"t": 1, "pdq": B}])
    with pytest.raises(InvalidIdentifier, match=r"not a valid JSON array"):
        frames_of("[1,")
