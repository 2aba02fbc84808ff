"""Flagged-value lists: hash types, file formats, the importer and the membership store."""
