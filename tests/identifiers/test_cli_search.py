"""``heroes search`` by identifier: the lower-case, EIP-55 and upper-case spellings agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.extract.page import extract_page
from documents import Page
from heroes.cli import main
from identifiers.onion import onion_address

EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ONION = onion_address(bytes(range(32)))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-search")
    url = f"http://{ONION}/wallets"
    found = extract_page(url, f"<p>Ether: {EIP55} or http://{ONION}/</p>".encode())
    page = Page(url=url, fetched_at="2026-11-29T12:00:00Z", entities=found.entities)
    (root / "pages.jsonl").write_text(json.dumps(page.source()) + "\n")
    result = CliRunner().invoke(
        main, ["--data-dir", str(root / "data"), "index", "ingest", str(root / "pages.jsonl")])
    assert result.exit_code == 0, result.output
    return root / "data"


@pytest.mark.parametrize(
    "query",
    [
        f"eth:{EIP55.lower()}",
        f"eth:{EIP55}",
        f"eth:0x{EIP55[2:].upper()}",
        f"onion:{ONION.upper()}",
        f'onion:"http://www.{ONION}/market?id=1"',
    ],
)
def test_search_finds_the_page_in_every_spelling(data_dir: Path, query: str) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "search", query, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hits"]["total"]["value"] == 1
