"""URL-trap limits: URLs a crawler must not queue however many links lead there.

Calendars and relative-link loops generate endless URLs: ``/a/b/a/b/a/b/``, ever deeper
paths. :func:`trap_reason` is a pure check on one canonical URL; the per-host page cap
(``crawler.max_pages_per_host``) needs counts and is the store's. Reads
``frontier.max_path_segments`` and ``frontier.max_segment_repeats`` through its caller.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from config.sections.frontier import FrontierSettings


def trap_reason(canonical: str, options: FrontierSettings) -> str | None:
    """Why ``canonical`` is a URL trap, or None when it may be queued."""
    segments = [s for s in urlsplit(canonical).path.split("/") if s]
    if len(segments) > options.max_path_segments:
        return f"path has {len(segments)} segments (limit {options.max_path_segments})"
    if segments:
        segment, times = Counter(segments).most_common(1)[0]
        if times > options.max_segment_repeats:
            return (f"path segment {segment!r} repeats {times} times "
                    f"(limit {options.max_segment_repeats})")
    return None
