"""``heroes extract FILE.html``: human and ``--json`` output, bad input exits 2."""

from __future__ import annotations

import json

from click.testing import CliRunner

from heroes.cli import main
from identifiers.onion import onion_address

ONION = onion_address(bytes(range(32)))
PAGE = f"""<html><head><title>Vendor page</title></head><body>
<p>Orders placed before noon usually ship the same day. Please read the rules first.</p>
<p>Mail sales@example.com, mirror {ONION}, pay 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa</p>
<a href="/next.html">next</a> <a href="magnet:?xt=urn:btih:{'ab' * 20}&amp;dn=x">magnet</a>
</body></html>"""


def test_extract_json(tmp_path):
    page = tmp_path / "saved.html"
    page.write_text(PAGE)
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "extract", str(page), "--url",
               f"http://{ONION}/a/b.html", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["title"] == "Vendor page" and data["lang"] == "en"
    assert data["links"] == [f"http://{ONION}/next.html"]
    assert data["entities"]["emails"] == ["sales@example.com"]
    assert data["entities"]["onions"] == [ONION]
    assert data["entities"]["btc"] == ["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]
    assert data["entities"]["infohashes"] == ["ab" * 20]
    assert set(data["entities"]) == {"onions", "emails", "btc", "xmr", "eth", "pgp", "phones",
                                     "magnets", "infohashes"}


def test_extract_human_output_groups_by_type(tmp_path):
    page = tmp_path / "saved.html"
    page.write_bytes(PAGE.encode())
    result = CliRunner().invoke(main, ["extract", str(page)])
    assert result.exit_code == 0, result.output
    assert "title:    Vendor page" in result.output
    assert "emails: 1\n  sales@example.com" in result.output
    assert "links:    0" in result.output  # relative links need --url


def test_extract_missing_file_is_a_user_error(tmp_path):
    result = CliRunner().invoke(main, ["extract", str(tmp_path / "missing.html")])
    assert result.exit_code == 2
    assert "missing.html" in result.output
