"""Scrapy download handlers of the crawler (one per transport)."""
