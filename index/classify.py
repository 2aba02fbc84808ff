"""The keyword drain stage: a torrent whose name or file names hold a keyword-list term is flagged.

Runs in the drain (``before_write``) after flagged-value matching (which flags torrents whose
infohash is on a hash list), so every torrent, found on a page or discovered in the DHT, is
classified once whichever process produced it. Outcome per torrent: unchanged, or one
:class:`~documents.Match` per (list entry, field) with ``type = "keyword"``, field ``name``
or ``files.path``, and ``flagged=True``. The probe watches flagged torrents
(:func:`monitors.targets.targets_from_index`). Keyword lists are re-read when the hash
lists change (checked every ``matching.reload_check_s``). Reads the ``matching`` section.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from config.sections.matching import MatchingSettings
from documents import Document, Match, Torrent
from index.hashsets.membership import Entry, MembershipStore
from index.keywords import KeywordMatcher

KEYWORD = "keyword"


def keyword_matches(torrent: Torrent, matcher: KeywordMatcher,
                    entries: dict[str, list[Entry]]) -> list[Match]:
    """The matches of one torrent's name and file paths (pure)."""
    out: list[Match] = []
    texts = [("name", torrent.name), *(("files.path", f.path) for f in torrent.files)]
    for field, text in texts:
        for term in matcher.find(text):
            for e in entries.get(term, []):
                out.append(Match(list=e.list, type=KEYWORD, value=term, field=field,
                                 category=e.category, entry=e.entry))
    return list(dict.fromkeys(out))


class KeywordStage:
    """DrainStage: keyword-list classification of torrents."""

    name = "keywords"

    def __init__(self, store: MembershipStore, settings: MatchingSettings):
        self.store = store
        self.settings = settings
        self.matcher = KeywordMatcher(())
        self.entries: dict[str, list[Entry]] = {}
        self.generation = -1
        self._checked_at = 0.0
        self.counters = {"checked": 0, "flagged": 0}

    def load(self) -> None:
        generation = self.store.generation()
        if generation == self.generation:
            return
        entries: dict[str, list[Entry]] = {}
        for e in self.store.flagging_entries_of_type(KEYWORD):
            entries.setdefault(e.value, []).append(e)
        self.entries = entries
        self.matcher = KeywordMatcher(entries)
        self.generation = generation

    async def before_write(self, docs: list[Document]) -> list[Document]:
        now = time.monotonic()
        if now - self._checked_at >= self.settings.reload_check_s or self.generation < 0:
            self._checked_at = now
            await asyncio.to_thread(self.load)
        return self.mark_batch(docs)

    def mark_batch(self, docs: Sequence[Document]) -> list[Document]:
        if not self.matcher:
            return list(docs)
        out: list[Document] = []
        for doc in docs:
            if isinstance(doc, Torrent):
                self.counters["checked"] += 1
                found = keyword_matches(doc, self.matcher, self.entries)
                if found:
                    self.counters["flagged"] += 1
                    doc = doc.with_matches(found)
            out.append(doc)
        return out

    async def after_commit(self, docs: Sequence[Document]) -> None:
        return None
