"""The demo's hygiene lists on the lab sites, without Tor: pages built from the sites' files
go through the real drain, and the investigator's commands run on a lab picture."""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from config import load_settings
from documents import Page, utcnow
from documents.page import Media
from heroes import demo_hygiene, demo_steps
from heroes.cli import main
from heroes.demo_config import MEDIA_LIST, TURNED_LIST, VIDEO_LIST, HashList
from heroes.lab.onion_sites import generate_sites
from index.store import Store


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    sites = tmp_path_factory.mktemp("sites")
    return generate_sites(sites, seed=1), sites


def lab_pages(truth: dict[str, Any]) -> list[Page]:
    """The reachable lab pages with their media, hashed as the crawler hashed them."""
    pages = []
    for url, info in truth["pages"].items():
        if not info["reachable"] or not info["media"]:
            continue
        media = [Media(url=m, **{k: v for k, v in truth["media"][m].items()
                                 if k in Media.model_fields and k != "flagged"})
                 for m in info["media"]]
        pages.append(Page(url=url, fetched_at=utcnow(), media=media))
    return pages


def test_hygiene_lists_flag_the_turned_picture_and_the_videos_and_suppress(
        lab: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    truth, sites = lab
    turned = demo_hygiene.turned_picture(truth, sites)
    assert turned is not None and turned.file.is_file()
    assert turned.transform != "original"
    lists = {hl.name: hl for hl in demo_hygiene.hash_lists(truth, turned)}
    assert set(lists) == {TURNED_LIST, VIDEO_LIST, demo_hygiene.NEGATIVE_LIST}
    negative = lists[demo_hygiene.NEGATIVE_LIST]
    assert "#! kind: negative" in negative.text().splitlines()
    flagged = tuple(sorted({m["sha256"] for m in truth["flagged_media"]}))
    assert negative.values[0] in flagged

    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path / "data")})
    lines = demo_steps.import_lists(settings, tmp_path / "lists", [
        HashList(MEDIA_LIST, "sha256", "lab-image", flagged), *lists.values()])
    assert any("(kind negative, source lab exchange, trust high)" in line for line in lines)

    check = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "hashes", "check",
                                      str(turned.file)])
    assert check.exit_code == 0, check.output
    assert f"{TURNED_LIST} (pdq, distance" in check.output
    assert f"as {turned.transform}" in check.output

    store = Store(settings)

    async def drained() -> list[str]:
        store.append(lab_pages(truth))
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()
        return await demo_hygiene.result_lines(settings)

    try:
        result = asyncio.run(drained())
    finally:
        store.close()
    turned_lines = [line for line in result if f"{TURNED_LIST} pdq" in line]
    assert len(turned_lines) == 1 and f"as {turned.transform}" in turned_lines[0]
    assert f": {turned.url.rsplit('/', 1)[-1]} {TURNED_LIST}" in turned_lines[0]
    video_pages = {line.split(": ", 1)[0] for line in result if f"{VIDEO_LIST} vpdq" in line}
    video_urls = {truth["videos"][v] for v in ("original", "cropped", "reencoded")}
    showing = {u for u, p in truth["pages"].items() if set(p["media"]) & video_urls}
    assert video_pages == showing and len(showing) == 2
    assert any("of the video's frames" in line and " s" in line for line in result)
    assert result[-1].startswith(f"negative list {demo_hygiene.NEGATIVE_LIST}: 1 hit suppressed")


def test_investigator_commands_run_on_the_lab_picture(
        lab: tuple[dict[str, Any], Path], tmp_path: Path) -> None:
    truth, sites = lab
    turned = demo_hygiene.turned_picture(truth, sites)
    assert turned is not None
    data = tmp_path / "data"
    config = tmp_path / "empty.toml"
    config.write_text("")
    lines = demo_hygiene.investigator_lines(
        functools.partial(demo_steps.heroes_argv, config, data), turned)
    text = "\n".join(lines)
    assert f"$ heroes --config {config} --data-dir {data} hashes compute {turned.file}" in text
    assert "(exit 0)" in text and "(exit 1)" in text  # computed; no list yet: no hit
    assert f"pdq.{turned.transform}" in text  # compute shows the dihedral hashes
    assert sys.executable not in text
