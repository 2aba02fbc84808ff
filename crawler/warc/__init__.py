"""Page captures: WARC files of what the crawler fetched, sealed into the capture log.

:mod:`crawler.warc.records` builds the WARC records (pure), :mod:`crawler.warc.files` writes
them to size-rotated, gzip-per-record files and seals each closed file,
:mod:`crawler.warc.capture` hooks them into a crawl, and :mod:`crawler.warc.select` finds
a page's or a service's capture again (what an evidence export bundles).
"""
