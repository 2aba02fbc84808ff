"""Hash types, list formats and the importer: bad lines name FILE:LINE, good ones are kept."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import load_settings
from documents import Document, FlaggedHash
from heroes.cli import main
from index.hashsets.errors import BadValue, DuplicateHashType, UnknownHashType, UnreadableFile
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore
from index.hashsets.registry import HASH_TYPES, HashTypeRegistry
from index.hashsets.types import BUILTIN_TYPES, HashType, Md5HashType
from index.store import Store
from query.model import Search, Term

GOOD = [(t.name, raw, norm) for t in HASH_TYPES for raw, norm in t.good]
BAD = [(t.name, raw) for t in HASH_TYPES for raw in t.bad]
MD5_A = "d41d8cd98f00b204e9800998ecf8427e"
SHA1_A = "da39a3ee5e6b4b0d3255bfef95601890afd80709"


@pytest.mark.parametrize(("type_name", "raw", "normalised"), GOOD)
def test_type_normalises_its_examples(type_name: str, raw: str, normalised: str) -> None:
    assert HASH_TYPES.normalize(type_name, raw) == normalised


@pytest.mark.parametrize(("type_name", "raw"), BAD)
def test_type_rejects_its_bad_examples_quoting_them(type_name: str, raw: str) -> None:
    with pytest.raises(BadValue) as info:
        HASH_TYPES.normalize(type_name, raw)
    assert repr(raw)[:20] in str(info.value)


def test_every_type_ships_examples() -> None:
    for t in HASH_TYPES:
        assert t.good and t.bad, t.name


def test_types_are_the_identifier_types_of_the_same_name() -> None:
    from identifiers import IDENTIFIERS

    backed = [t for t in HASH_TYPES if t.identifier is not None]
    for t in backed:
        assert t.name == t.identifier and t.name in IDENTIFIERS
        assert t.good == IDENTIFIERS.get(t.name).spellings
    assert {t.name for t in backed} >= {"md5", "sha1", "sha256", "infohash", "pdq", "btc",
                                        "xmr", "eth", "email", "pgp"}


def test_a_list_type_need_not_be_an_identifier_type() -> None:
    class ColourHashType(HashType):
        name = "colour"
        description = "a colour name"
        good = (("Red", "red"),)
        bad = ("",)

        def normalize(self, raw: str) -> str:
            if not raw.strip():
                raise BadValue(f"a colour needs a name, got {raw!r}")
            return raw.strip().lower()

    registry = HashTypeRegistry([*BUILTIN_TYPES, ColourHashType])
    assert registry.get("colour").identifier is None
    assert registry.normalize("colour", " Red ") == "red"
    assert registry.get("colour").normalize_each("Red") == ("red",)


V1_HEX = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
V2_HEX = "ab" * 32
HYBRID = f"magnet:?xt=urn:btih:{V1_HEX.upper()}&xt=urn:btmh:1220{V2_HEX}&dn=archive"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("hybrid.txt", f"{HYBRID}\n"),
        ("hybrid.csv", f"value,type,category\n{HYBRID},infohash,swarm\n"),
        ("typed.csv", f"infohash,category\n{HYBRID},swarm\n"),
    ],
)
def test_a_hybrid_magnet_flags_both_infohashes_in_every_format(
    tmp_path: Path, members: MembershipStore, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    spooled = Spooled()
    report = import_file(path, members, spooled)
    assert report.problems == []
    assert report.imported == 2
    assert sorted(d.value for d in spooled.docs) == sorted([V1_HEX, V2_HEX])
    assert members.lookup("infohash", V1_HEX) and members.lookup("infohash", V2_HEX)


def test_a_bad_hybrid_magnet_is_one_problem(tmp_path: Path, members: MembershipStore) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"value,type\nmagnet:?dn=nothing,infohash\n{HYBRID},infohash\n")
    report = import_file(path, members, Spooled())
    assert report.problems == [
        f"{path}:2: magnet link names no infohash: 'magnet:?dn=nothing'"]
    assert report.imported == 2


def test_xmr_needs_its_checksum() -> None:
    with pytest.raises(BadValue, match=r"monero address checksum does not match: '4AAAA"):
        HASH_TYPES.normalize("xmr", "4" + "A" * 94)


def test_registry_refuses_a_duplicate_name() -> None:
    class Other(HashType):
        name = "md5"

    with pytest.raises(DuplicateHashType, match=r"'md5'.*Md5HashType.*Other"):
        HashTypeRegistry([*BUILTIN_TYPES, Other])


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownHashType, match=r"'crc32'.*md5"):
        HASH_TYPES.get("crc32")
    assert isinstance(HASH_TYPES.get("MD5"), Md5HashType)


class Spooled:
    def __init__(self) -> None:
        self.docs: list[Document] = []

    def __call__(self, docs: list[Document]) -> int:
        self.docs.extend(docs)
        return len(docs)


@pytest.fixture
def members(tmp_path: Path) -> MembershipStore:
    store = MembershipStore(tmp_path / "hashsets.sqlite")
    yield store
    store.close()


def vics_with_broken_entry(path: Path) -> Path:
    good = {"MediaID": 1, "Category": 1, "MD5": MD5_A.upper(), "SHA1": SHA1_A}
    short = {"MediaID": 2, "Category": 2, "MD5": "d41d8cd98f"}
    nested = {
        "MediaID": 3,
        "Category": 1,
        "Hashes": [
            {"HashName": "PDQ", "HashValue": "f" * 64},
            {"HashName": "PhotoDNA", "HashValue": "AAAA"},
        ],
    }
    body = ",\n".join(json.dumps(e) for e in (good, short, nested))
    text = (
        '{"odata.metadata": "http://lab.localhost/$metadata#Media",\n "value": [\n'
        f"{body},\n"
        '{"MediaID": 4, "MD5": "0123" oops},\n'
        '{"MediaID": 5, "Category": 3, "SHA1": "' + "b" * 40 + '"}\n]}\n'
    )
    path.write_text(text)
    return path


def test_vics_broken_entry_names_its_line_and_the_rest_is_imported(
    tmp_path: Path, members: MembershipStore
) -> None:
    path = vics_with_broken_entry(tmp_path / "lab.json")
    spooled = Spooled()
    report = import_file(path, members, spooled)
    assert report.problems == [
        f"{path}:4: md5 must be 32 hex digits, got 10 characters: 'd41d8cd98f'",
        f"{path}:6: broken JSON in the entry starting on line 6: Expecting ',' delimiter",
    ]
    assert report.imported == 4
    found = {(d.type, d.value, d.category, d.source_id, d.list) for d in spooled.docs}
    assert found == {
        ("md5", MD5_A, "1", "1", "lab"),
        ("sha1", SHA1_A, "1", "1", "lab"),
        ("pdq", "f" * 64, "1", "3", "lab"),
        ("sha1", "b" * 40, "3", "5", "lab"),
    }
    assert all(isinstance(d, FlaggedHash) for d in spooled.docs)


def test_csv_bad_hash_length_names_the_line(tmp_path: Path, members: MembershipStore) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        f"id,category,md5,sha1\na1,cat-a,{MD5_A},\na2,cat-b,abc123,\na3,cat-a,,{SHA1_A}\na4,cat-a\n"
    )
    spooled = Spooled()
    report = import_file(path, members, spooled, list_name="csvlist")
    assert report.problems == [
        f"{path}:3: md5 must be 32 hex digits, got 6 characters: 'abc123'",
        f"{path}:5: 2 columns where the header has 4",
    ]
    assert {(d.type, d.value, d.source_id) for d in spooled.docs} == {
        ("md5", MD5_A, "a1"),
        ("sha1", SHA1_A, "a3"),
    }


def test_csv_value_and_type_columns(tmp_path: Path, members: MembershipStore) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "value,type,category\n"
        "magnet:?xt=urn:btih:C12FE1C06BBA254A9DC9F519B335AA7C1367A88A,infohash,swarm\n"
        "0x52908400098527886E0F7030069857D2E4169EE7,eth,wallet\n"
        "nonsense,btc,wallet\n"
    )
    report = import_file(path, members, Spooled())
    assert report.imported == 2
    assert report.problems == [
        f"{path}:4: not a valid bitcoin address (base58check 1…/3… or bech32 bc1…): 'nonsense'"
    ]


def test_csv_without_value_column_is_unreadable(tmp_path: Path, members: MembershipStore) -> None:
    path = tmp_path / "nohash.csv"
    path.write_text("name,colour\nx,blue\n")
    with pytest.raises(UnreadableFile, match=rf"{path}:1: the header"):
        import_file(path, members, Spooled())


def test_lines_guess_or_take_the_type(tmp_path: Path, members: MembershipStore) -> None:
    path = tmp_path / "mixed.txt"
    path.write_text(f"# lab list\n\nTrader@Example.onion\n{MD5_A}\n{SHA1_A}\n")
    report = import_file(path, members, Spooled())
    assert report.problems == [
        f"{path}:5: cannot tell the type of '{SHA1_A}'; give the type (--type)"
    ]
    assert report.imported == 2
    report = import_file(path, members, Spooled(), type_name="sha1")
    assert len(report.problems) == 2  # the email and the md5 are not sha1 values


def test_reimport_changes_nothing(tmp_path: Path, members: MembershipStore) -> None:
    path = vics_with_broken_entry(tmp_path / "lab.json")
    first, second = Spooled(), Spooled()
    import_file(path, members, first)
    generation = members.generation()
    report = import_file(path, members, second)
    assert (report.imported, report.unchanged, second.docs) == (0, 4, [])
    assert members.generation() == generation
    assert len({d.id for d in first.docs}) == 4


def test_remove_list(tmp_path: Path, members: MembershipStore) -> None:
    import_file(vics_with_broken_entry(tmp_path / "lab.json"), members, Spooled())
    assert [s.count for s in members.lists()] == [1, 1, 2]
    assert len(members.remove_list("lab")) == 4
    assert members.lists() == [] and members.lookup("md5", MD5_A) == []


def test_a_million_values_import(tmp_path: Path, members: MembershipStore) -> None:
    # The timing is bench/match.py's business; here: the scale works and nothing is lost.
    path = tmp_path / "million.txt"
    path.write_text("".join(f"{i:032x}\n" for i in range(1_000_000)))
    spooled = [0]

    def count(docs: list[Document]) -> int:
        spooled[0] += len(docs)
        return len(docs)

    report = import_file(path, members, count, type_name="md5")
    assert report.imported == 1_000_000 and spooled[0] == 1_000_000 and not report.problems
    assert members.lookup("md5", f"{999_999:032x}")[0].list == "million"


def test_cli_import_lists_remove(tmp_path: Path) -> None:
    path = vics_with_broken_entry(tmp_path / "lab.json")
    base = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    result = runner.invoke(main, [*base, "hashes", "import", str(path), "--list", "vic"])
    assert result.exit_code == 1
    assert f"{path}:4: md5 must be 32 hex digits" in result.stderr
    assert "list vic: 4 values added or changed, 0 unchanged, 2 problems" in result.stdout
    again = runner.invoke(main, [*base, "hashes", "import", str(path), "--list", "vic"])
    assert "0 values added or changed, 4 unchanged" in again.stdout
    listed = runner.invoke(main, [*base, "hashes", "lists", "--json"])
    assert {(r["type"], r["count"]) for r in json.loads(listed.stdout)} == {
        ("md5", 1),
        ("sha1", 2),
        ("pdq", 1),
    }
    bad_type = runner.invoke(main, [*base, "hashes", "import", str(path), "--type", "crc"])
    assert bad_type.exit_code == 2
    missing = runner.invoke(main, [*base, "hashes", "remove", "--list", "nope"])
    assert missing.exit_code == 2 and "no list named 'nope'" in missing.stderr
    drained = runner.invoke(main, [*base, "index", "drain"])
    assert drained.exit_code == 0, drained.output
    reader = Store(load_settings(None, environ={}, overrides={"data_dir": str(tmp_path / "data")}))
    found = asyncio.run(reader.search(Search("hash", Term("list", "vic"))))
    reader.close()
    assert found["hits"]["total"]["value"] == 4
    removed = runner.invoke(main, [*base, "hashes", "remove", "--list", "vic"])
    assert removed.exit_code == 0, removed.output
    assert "4 values removed from matching" in removed.stdout
    assert "4 hash documents deleted from the index" in removed.stdout
