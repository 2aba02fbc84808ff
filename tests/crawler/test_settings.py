"""The Scrapy settings a crawl is built with: only the allowed extensions, no listeners."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.extensions.remote_control import RemoteControl
from scrapy.extensions.telnet import TelnetConsole
from scrapy.settings import Settings as ScrapySettings
from scrapy.spiders import Spider
from scrapy.utils.conf import build_component_list

from config import load_settings
from crawler.settings import EXTENSIONS, scrapy_settings

LISTENERS = (
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
)


def _crawl_settings(tmp_path: Path) -> ScrapySettings:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})
    return ScrapySettings(scrapy_settings(settings, [], job="t", job_dir=tmp_path / "job"))


def _project_settings() -> ScrapySettings:
    project = ScrapySettings()
    project.setmodule(importlib.import_module("crawler.scrapy_project"), priority="project")
    return project


@pytest.mark.parametrize("build", ["crawl", "project"])
def test_only_the_allowed_extensions_run(tmp_path: Path, build: str) -> None:
    settings = _crawl_settings(tmp_path) if build == "crawl" else _project_settings()
    enabled = build_component_list(settings.getwithbase("EXTENSIONS"))
    assert sorted(enabled) == sorted(EXTENSIONS)
    assert not set(LISTENERS) & set(enabled)
    assert settings.getbool("REMOTE_CONTROL_ENABLED") is False
    assert settings.getbool("TELNETCONSOLE_ENABLED") is False


def test_listeners_refuse_to_start_even_when_listed(tmp_path: Path) -> None:
    # Should the list ever name them again, their own switches keep them off.
    crawler = Crawler(Spider, _crawl_settings(tmp_path))
    for extension in (RemoteControl, TelnetConsole):
        with pytest.raises(NotConfigured):
            extension.from_crawler(crawler)


def test_scrapy_alone_would_open_remote_control() -> None:
    # Why the list replaces Scrapy's own: its defaults turn the code-running endpoint on.
    defaults = ScrapySettings()
    assert LISTENERS[0] in build_component_list(defaults.getwithbase("EXTENSIONS"))
    assert defaults.getbool("REMOTE_CONTROL_ENABLED") is True
