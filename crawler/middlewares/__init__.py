"""Scrapy middlewares of the crawler: scope (what may be fetched), politeness, cookies per
onion, and conditional re-fetches. Per-host caps are the frontier's (:mod:`crawler.frontier`)."""
