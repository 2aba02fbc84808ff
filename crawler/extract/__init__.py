"""Extraction from fetched pages: pure functions from bytes to title, text, language, links,
entities validated by checksum or format, and in-memory media hashes. No I/O, no settings."""
