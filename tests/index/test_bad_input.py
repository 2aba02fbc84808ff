"""Every bad input is named FILE:LINE and every good line is kept, in every input format.

The same inputs go through ``heroes index ingest`` (JSON lines) and ``heroes hashes
import`` (plain lists, CSV, VICS JSON): a 5,000-digit integer, 100,000 ``[``, a lone
surrogate, a byte-order mark, bytes that are not UTF-8, duplicate keys, a number where a
time belongs, an over-size document, a field of the wrong type and a truncated last line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from documents import Document
from documents.reader import UnreadableInput
from heroes.cli import main
from heroes.ingest import read_jsonl
from index.hashsets.errors import UnreadableFile
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore

BIG_INT = "1" + "0" * 4999
DEEP = "[" * 100_000
BOM = b"\xef\xbb\xbf"
CUT = "(the file ends in this line without a newline: it may be cut short)"
CAP = 250_000  # index.max_document_bytes: above 100,000 brackets, below the big ones
BIG_TEXT = "x" * 300_000
MD5 = [f"{i:032x}" for i in range(1, 12)]


def page(n: int, **extra: object) -> dict[str, object]:
    return {
        "kind": "page",
        "url": f"http://market{n}.onion/item",
        "title": f"Lamp {n}",
        "fetched_at": "2026-11-28T12:00:00Z",
        **extra,
    }


def line(doc: dict[str, object]) -> bytes:
    return json.dumps(doc).encode() + b"\n"


def jsonl_with_every_bad_input(path: Path) -> Path:
    lines = [
        BOM + line(page(1)),
        b'{"kind": "page", "url": "http://market2.onion/", "status": '
        + BIG_INT.encode()
        + b', "fetched_at": "2026-11-28T12:00:00Z"}\n',
        DEEP.encode() + b"\n",
        b'{"kind": "page", "url": "http://market4.onion/", "title": "\\ud800", '
        b'"fetched_at": "2026-11-28T12:00:00Z"}\n',
        line(page(5)),
        b'{"kind": "page", "url": "http://market6.onion/", "title": "caf\xe9", '
        b'"fetched_at": "2026-11-28T12:00:00Z"}\n',
        b'{"kind": "page", "url": "http://market7.onion/a", "url": "http://market7.onion/b", '
        b'"fetched_at": "2026-11-28T12:00:00Z"}\n',
        line(page(8, fetched_at=5)),
        line(page(9, text=BIG_TEXT)),
        line(page(10, status="ok")),
        line(
            {
                "kind": "observation",
                "infohash": "9807e184cd454c9ebfea895907ef2f47dab52bd4",
                "ip": "127.0.0.2",
                "port": 6881,
                "first_seen": "2026-11-28T12:00:00+00:00",
                "last_seen": "2026-11-28 12:05:00Z",
                "level": 1,
            }
        ),
        b'{"kind": "page", "url": "http://market12.onion/", "fetched_at": "2026-',
    ]
    path.write_bytes(b"".join(lines))
    return path


def expected_ingest_problems(src: Path) -> list[str]:
    return [
        f"{src}:2: an integer of 5,000 digits (at most 20) at column 60",
        f"{src}:3: nested more than 64 levels deep at column 65",
        f"{src}:4: a lone surrogate '\\ud800' in a string (half of a UTF-16 pair, not a "
        "character) at column 60",
        f"{src}:6: not UTF-8 text: byte b'\\xe9' at column 63",
        f"{src}:7: duplicate key 'url' in one object",
        f"{src}:8: fetched_at: expected an ISO 8601 date and time with its offset "
        "(e.g. 2026-11-28T12:00:00Z) (got 5)",
        f"{src}:9: the line is 300,121 bytes, more than the 250,000 a document may have "
        "(setting index.max_document_bytes)",
        f"{src}:10: status: expected a whole number (a JSON integer, not a string, bool or "
        "fraction) (got 'ok')",
        f"{src}:12: not JSON: Unterminated string starting at at column 65 {CUT}",
    ]


def assert_problems(problems: list[str], expected: list[str | tuple[str, str]]) -> None:
    """Our own messages exactly; a value's type error by its FILE:LINE and the quoted value."""
    assert len(problems) == len(expected), "\n".join(p[:160] for p in problems)
    for got, want in zip(problems, expected, strict=True):
        if isinstance(want, tuple):
            assert got.startswith(want[0]) and want[1] in got, (got[:160], want)
        else:
            assert got == want


class Spooled:
    def __init__(self) -> None:
        self.docs: list[Document] = []

    def __call__(self, docs: list[Document]) -> int:
        self.docs.extend(docs)
        return len(docs)


def test_reader_names_every_bad_json_line_and_keeps_the_good_ones(tmp_path: Path) -> None:
    src = jsonl_with_every_bad_input(tmp_path / "docs.jsonl")
    spooled = Spooled()
    report = read_jsonl(src, spooled, max_bytes=CAP)
    assert report.problems == expected_ingest_problems(src)
    assert report.bad == 9 and report.accepted == 3
    assert [d.KIND for d in spooled.docs] == ["page", "page", "observation"]
    assert {getattr(d, "url", "") for d in spooled.docs} >= {
        "http://market1.onion/item",
        "http://market5.onion/item",
    }


def test_ingest_cli_reports_every_bad_line_and_indexes_the_good_ones(tmp_path: Path) -> None:
    src = jsonl_with_every_bad_input(tmp_path / "docs.jsonl")
    base = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    env = {"HEROES_INDEX__MAX_DOCUMENT_BYTES": str(CAP)}
    result = runner.invoke(main, [*base, "index", "ingest", str(src)], env=env)
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == expected_ingest_problems(src)
    assert "spooled 3 documents, 9 bad lines" in result.stdout
    assert "Traceback" not in result.output
    stats = runner.invoke(main, [*base, "index", "stats", "--json"])
    counts = json.loads(stats.stdout)["documents"]
    assert (counts["page"], counts["observation"]) == (2, 1)


def test_ingest_with_no_good_line_is_a_user_error(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_bytes(DEEP.encode() + b"\n" + line(page(1, fetched_at=5)))
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "index", "ingest", "--no-drain", str(src)]
    )
    assert result.exit_code == 2, result.output
    assert f"{src}:1: nested more than 64 levels deep" in result.stderr
    assert f"{src}:2: fetched_at:" in result.stderr
    assert "spooled 0 documents, 2 bad lines" in result.stdout


def test_utf16_file_is_refused_as_a_whole(tmp_path: Path) -> None:
    src = tmp_path / "utf16.jsonl"
    src.write_bytes(json.dumps(page(1)).encode("utf-16"))
    with pytest.raises(UnreadableInput, match=rf"{src}:1: the file is UTF-16"):
        read_jsonl(src, Spooled(), max_bytes=CAP)
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "index", "ingest", "--no-drain", str(src)]
    )
    assert result.exit_code == 2 and "save it as UTF-8" in result.stderr
    assert "Traceback" not in result.output


# Hash lists ------------------------------------------------------------------------------


@pytest.fixture
def members(tmp_path: Path) -> MembershipStore:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    yield store
    store.close()


def plain_list(path: Path) -> Path:
    path.write_bytes(
        BOM
        + f"# lab list\n{MD5[0]}\n{BIG_INT}\n{DEEP}\n".encode()
        + b"\xed\xa0\x80\n"  # a surrogate encoded as UTF-8: not UTF-8
        + b"caf\xe9\n"
        + f"{MD5[1]}\n{BIG_TEXT}\nnot-a-hash\n{MD5[2]}\n{MD5[3][:20]}".encode()
    )
    return path


def test_plain_list_names_each_bad_line(tmp_path: Path, members: MembershipStore) -> None:
    path = plain_list(tmp_path / "list.txt")
    spooled = Spooled()
    report = import_file(
        path, members, spooled, type_name="md5", max_document_bytes=CAP
    )
    assert_problems(
        report.problems,
        [
            (f"{path}:3: ", "'10000"),
            (f"{path}:4: ", "'[[[["),
            f"{path}:5: not UTF-8 text: byte b'\\xed' at column 1",
            f"{path}:6: not UTF-8 text: byte b'\\xe9' at column 4",
            f"{path}:8: the line is 300,000 bytes, more than the 250,000 a document may have "
            "(setting index.max_document_bytes)",
            (f"{path}:9: ", "'not-a-hash'"),
            (f"{path}:11: ", f"{MD5[3][:20]!r} {CUT}"),
        ],
    )
    assert sorted(d.value for d in spooled.docs) == MD5[:3]


def csv_list(path: Path) -> Path:
    path.write_bytes(
        BOM
        + b"id,category,md5\n"
        + f"a1,lab,{MD5[0]}\na2,lab,{BIG_INT}\n".encode()
        + b"a3,caf\xe9,"
        + MD5[4].encode()
        + f"\na4,lab,{MD5[1]}\na5,lab,{BIG_TEXT}\na6,lab\na7,lab,{MD5[2]}\na8,lab".encode()
    )
    return path


def test_csv_names_each_bad_row(tmp_path: Path, members: MembershipStore) -> None:
    path = csv_list(tmp_path / "list.csv")
    spooled = Spooled()
    report = import_file(path, members, spooled, max_document_bytes=CAP)
    assert_problems(
        report.problems,
        [
            (f"{path}:3: ", "'10000"),
            f"{path}:4: not UTF-8 text: byte b'\\xe9' at column 7",
            f"{path}:6: the line is 300,007 bytes, more than the 250,000 a document may have "
            "(setting index.max_document_bytes)",
            f"{path}:7: 2 columns where the header has 3",
            f"{path}:9: 2 columns where the header has 3 {CUT}",
        ],
    )
    assert sorted((d.value, d.source_id) for d in spooled.docs) == [
        (MD5[0], "a1"),
        (MD5[1], "a4"),
        (MD5[2], "a7"),
    ]


def vics_list(path: Path) -> Path:
    entries = [
        f'{{"MediaID": 1, "Category": 1, "MD5": "{MD5[0]}"}}',
        f'{{"MediaID": {BIG_INT}, "MD5": "{MD5[5]}"}}',
        f'{{"MediaID": 3, "Extra": {"[" * 100_000}{"]" * 100_000}, "MD5": "{MD5[6]}"}}',
        '{"MediaID": 4, "MD5": "\\ud800"}',
        f'{{"MediaID": 5, "Category": 2, "SHA1": "{"c" * 40}"}}',
        '{"MediaID": 6, "Category": "caf\udce9", "MD5": "' + MD5[7] + '"}',
        f'{{"MediaID": 7, "MD5": "{MD5[8]}", "MD5": "{MD5[9]}"}}',
        '{"MediaID": 8, "MD5": 5}',
        f'{{"MediaID": 9, "Hashes": "{MD5[10]}"}}',
        f'{{"MediaID": 10, "MD5": "{MD5[1]}", "Note": "{BIG_TEXT}"}}',
        f'{{"MediaID": 11, "MD5": "{MD5[2]}"}}',
        f'{{"MediaID": 12, "MD5": "{MD5[3]}',
    ]
    text = '{"odata.metadata": "http://lab.localhost/$metadata#Media",\n "value": [\n'
    raw = BOM + (text + ",\n".join(entries)).encode("utf-8", "surrogateescape")
    path.write_bytes(raw)
    return path


def expected_vics_problems(path: Path | str) -> list[str | tuple[str, str]]:
    return [
        f"{path}:4: an integer of 5,000 digits (at most 20)",
        f"{path}:5: the entry is nested more than 64 levels deep",
        f"{path}:6: a lone surrogate '\\ud800' in a string (half of a UTF-16 pair, not a "
        "character)",
        f"{path}:8: not UTF-8 text: byte b'\\xe9' at column 32",
        f"{path}:9: duplicate key 'MD5' in one object",
        f"{path}:10: MediaID '8': MD5 is not a string: 5",
        f"{path}:10: MediaID '8': no MD5, SHA1, SHA256 or PDQ",
        f"{path}:11: MediaID '9': Hashes is not a list",
        f"{path}:11: MediaID '9': no MD5, SHA1, SHA256 or PDQ",
        f"{path}:12: the entry is 300,070 bytes, more than the 250,000 a document may have "
        "(setting index.max_document_bytes)",
        f"{path}:14: the entry is cut short: the file ends inside it",
    ]


def test_vics_names_each_bad_entry(tmp_path: Path, members: MembershipStore) -> None:
    path = vics_list(tmp_path / "vic.json")
    spooled = Spooled()
    report = import_file(path, members, spooled, max_document_bytes=CAP)
    assert_problems(report.problems, expected_vics_problems(path))
    assert sorted((d.type, d.value, d.source_id) for d in spooled.docs) == [
        ("md5", MD5[0], "1"),
        ("md5", MD5[2], "11"),
        ("sha1", "c" * 40, "5"),
    ]


def test_vics_head_that_is_not_an_object_is_unreadable(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = tmp_path / "odd.json"
    path.write_text('"just a string"\n')
    with pytest.raises(UnreadableFile, match=rf"{path}:1: expected a JSON object"):
        import_file(path, members, Spooled())


@pytest.mark.parametrize(
    ("name", "make", "args", "good", "bad"),
    [
        ("list.txt", plain_list, ["--type", "md5"], 3, 7),
        ("list.csv", csv_list, [], 3, 5),
        ("vic.json", vics_list, [], 3, 11),
    ],
)
def test_hashes_import_cli_per_format(
    tmp_path: Path, name: str, make: object, args: list[str], good: int, bad: int
) -> None:
    path = make(tmp_path / name)  # type: ignore[operator]
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data")]
    env = {"HEROES_INDEX__MAX_DOCUMENT_BYTES": str(CAP)}
    result = runner.invoke(main, [*base, "hashes", "import", str(path), *args], env=env)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    problems = result.stderr.splitlines()
    assert len(problems) == bad and all(p.startswith(f"{path}:") for p in problems)
    assert f"{good} values added or changed, 0 unchanged, {bad} problems" in result.stdout


def test_hashes_import_with_no_good_value_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"value": [\n{"MediaID": ' + BIG_INT + ', "MD5": "' + MD5[0] + '"}\n]}\n')
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "hashes", "import", str(path)]
    )
    assert result.exit_code == 2, result.output
    assert f"{path}:2: an integer of 5,000 digits" in result.stderr


MEMORY_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from index.hashsets.rows import RawValue
    from index.hashsets.vics import read_vics
    from telemetry.native_memory import peak_resident_kb

    path, megabytes = Path(sys.argv[1]), int(sys.argv[2])
    with path.open("w") as out:
        out.write('{"odata.metadata": "http://lab.localhost/$metadata#Media",\\n "value": [\\n')
        i = 0
        while out.tell() < megabytes << 20:
            out.write("".join(
                '{"MediaID": %d, "Category": 1, "MD5": "%032x", "SHA1": "%040x"},\\n' % (j, j, j)
                for j in range(i, i + 10_000)))
            i += 10_000
        out.write('{"MediaID": 0, "MD5": "%032x"}\\n]}\\n' % 0)
    # This process's own peak (ru_maxrss would start at the test session's, kept over exec).
    before = peak_resident_kb()
    with path.open("rb") as stream:
        values = sum(isinstance(v, RawValue) for v in read_vics(stream, max_bytes=8 << 20))
    grown = peak_resident_kb() - before
    print(values, i, grown // 1024)
    """
)


def test_big_vics_file_is_read_with_bounded_memory(tmp_path: Path) -> None:
    megabytes = 48
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(tmp_path / "big.json"), str(megabytes)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    values, entries, grown_mb = (int(x) for x in done.stdout.split())
    assert values == 2 * entries + 1
    # Reading all of it at once would hold the 48 MiB text at least twice over.
    assert grown_mb < megabytes // 4, f"peak memory grew by {grown_mb} MiB"


# Chunk boundaries: the same answers whatever the read size ------------------------------


def test_lines_read_the_same_across_chunk_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from documents import reader

    raw = BOM + b"one\r\ntwo\n" + b"x" * 40 + b"\n\nthr\xe9e\n" + b"y" * 25 + b"\nlast"
    expected = [
        ("line", 1, "one\r", False),
        ("line", 2, "two", False),
        ("problem", 3, reader.too_big(40, 30), None),
        ("line", 4, "", False),
        ("problem", 5, "not UTF-8 text: byte b'\\xe9' at column 4", None),
        ("line", 6, "y" * 25, False),
        ("line", 7, "last", True),
    ]
    for chunk in (1, 2, 3, 5, 7, 64, 1 << 20):
        monkeypatch.setattr(reader, "CHUNK", chunk)
        got = [
            ("line", i.number, i.text, i.unterminated)
            if isinstance(i, reader.Line)
            else ("problem", i.line, i.message, None)
            for i in reader.read_lines(io.BytesIO(raw), max_bytes=30)
        ]
        assert got == expected, chunk


def test_vics_reads_the_same_across_chunk_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.hashsets import vics

    path = vics_list(tmp_path / "vic.json")
    small = path.read_bytes().replace(b"[" * 100_000, b"[" * 70).replace(b"]" * 100_000, b"]" * 70)
    small = small.replace(BIG_TEXT.encode(), b"x" * 500).replace(BIG_INT.encode(), b"1" * 30)
    path.write_bytes(small)

    def read() -> list[object]:
        with path.open("rb") as stream:
            return list(vics.read_vics(stream, max_bytes=400))

    whole = read()
    assert len(whole) == 14
    for chunk in (1, 3, 17, 256):
        monkeypatch.setattr(vics, "CHUNK", chunk)
        assert read() == whole, chunk


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "NaN is not a JSON value"),
        ('{"a": 1e400}', "the number '1e400' is beyond the range of a float"),
        ('{"a": {"b": 1, "b": 2}}', "duplicate key 'b' in one object"),
        ('{"a": -' + "9" * 21 + "}", "an integer of 21 digits (at most 20)"),
        ('["\\udc00"]', "a lone surrogate '\\udc00'"),
        ('["\\ud83d\\ud83d\\ude00"]', "a lone surrogate '\\ud83d'"),
    ],
)
def test_strict_json_refusals(text: str, message: str) -> None:
    from documents.strictjson import JsonRefused, loads

    with pytest.raises(JsonRefused) as caught:
        loads(text)
    assert caught.value.message.startswith(message)


def test_strict_json_takes_what_is_fine() -> None:
    from documents.strictjson import loads

    assert loads('["\\ud83d\\ude00", "\\\\ud800", "[[[[", -' + "9" * 20 + "]") == [
        "\U0001f600",
        "\\ud800",
        "[[[[",
        -int("9" * 20),
    ]
    assert loads("[" * 64 + "]" * 64) is not None
