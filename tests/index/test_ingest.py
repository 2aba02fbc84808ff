"""``heroes index ingest`` + ``heroes search`` round-trip; bad lines name FILE:LINE: field."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from heroes.cli import main

LINES = [
    {
        "kind": "page",
        "url": "http://marketabc.onion/item/1",
        "title": "Blue lamp market",
        "text": "A lamp for sale, escrow accepted",
        "fetched_at": "2026-11-28T12:00:00Z",
        "entities": {"btc": ["1BoatSLRHtKNngkdXEeobR76b53LETtpyT"]},
    },
    {
        "kind": "page",
        "url": "http://forumxyz.onion/t/2",
        "title": "General discussion",
        "text": "weather and gardening",
        "fetched_at": "2026-11-27T08:30:00+00:00",
    },
    {"kind": "page", "url": "ftp://nope", "fetched_at": "2026-11-27T08:30:00Z"},
    {"kind": "page", "url": "http://forumxyz.onion/t/3", "fetched_at": "yesterday"},
    {"kind": "spaceship"},
    {
        "kind": "observation",
        "infohash": "9807e184cd454c9ebfea895907ef2f47dab52bd4",
        "ip": "127.0.0.2",
        "port": 6881,
        "first_seen": "2026-11-28T12:00:00Z",
        "last_seen": "2026-11-28T12:05:00Z",
        "level": 2,
        "client": "qBittorrent/4.6.3",
        "sources": ["tracker"],
    },
]


def test_ingest_reports_bad_lines_and_keeps_good_ones(tmp_path: Path) -> None:
    src = tmp_path / "docs.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in LINES) + "\n{not json\n")
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(main, [*base, "index", "ingest", str(src)])
    assert result.exit_code == 1, result.output
    err = result.stderr
    assert f"{src}:3: url:" in err
    assert f"{src}:4: fetched_at:" in err and "'yesterday'" in err
    assert f"{src}:5: kind: unknown kind 'spaceship'" in err
    assert f"{src}:7: not JSON:" in err
    assert "spooled 3 documents, 4 bad lines" in result.stdout

    result = runner.invoke(
        main,
        [
            *base,
            "search",
            'btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyT AND title:"lamp market"',
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    shape = json.loads(result.stdout)
    assert shape["hits"]["total"]["value"] == 1
    hit = shape["hits"]["hits"][0]
    assert hit["_source"]["host"] == "marketabc.onion"
    assert len(hit["_id"]) == 32

    result = runner.invoke(main, [*base, "search", "level:>=2", "--kind", "observation"])
    assert result.exit_code == 0, result.output
    assert "1 observation documents match" in result.stdout

    # Re-ingesting the same file changes nothing.
    runner.invoke(main, [*base, "index", "ingest", str(src)])
    result = runner.invoke(main, [*base, "index", "stats", "--json"])
    stats = json.loads(result.stdout)
    assert stats["documents"]["page"] == 2
    assert stats["documents"]["observation"] == 1
    assert stats["spool_backlog"] == {}


def test_search_query_errors_are_words(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(main, [*base, "search", "colour:blue"])
    assert result.exit_code == 2
    assert "page has no field 'colour'" in result.stderr
    result = runner.invoke(main, [*base, "search", "(title:lamp"])
    assert result.exit_code == 2
    assert "never closed" in result.stderr
    assert "Traceback" not in result.output
