"""Scrapy's project settings module, for the ``scrapy`` tool only (``scrapy list``).

It names the spiders and nothing else: a crawl needs the Tor download handler, the frontier
and the pipelines, whose settings :mod:`crawler.settings` builds from our config when
``heroes crawl`` runs. Reads no settings.
"""

BOT_NAME = "heroes"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
TELNETCONSOLE_ENABLED = False
