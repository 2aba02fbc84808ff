"""Scrapy middlewares of the crawler: scope (what may be fetched) and per-host limits."""
