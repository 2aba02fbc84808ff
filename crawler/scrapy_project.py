"""Scrapy's project settings module, for the ``scrapy`` tool only (``scrapy list``).

It names the spiders and the extensions allowed (no listener of any kind) and nothing else:
a crawl needs the Tor download handler, the frontier and the pipelines, whose settings
:mod:`crawler.settings` builds from our config when ``heroes crawl`` runs. Reads no settings.
"""

from crawler import settings as _crawl

BOT_NAME = "heroes"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
EXTENSIONS_BASE: dict[str, int] = {}
EXTENSIONS = dict(_crawl.EXTENSIONS)
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
