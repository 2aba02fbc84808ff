"""One fetched page to an ``ExtractedPage``: title, visible text, language, links, media URLs
and validated entities, and the pivots the page carries in itself (DOM skeleton hash, tracker
ids, PGP key ids; :mod:`crawler.extract.pivots`). Pure and tolerant: hostile bytes give an
empty or partial page, never an exception. :func:`named_onion_urls` gives the front pages
of the onions a page names in its text without linking to them (new services to crawl).
No settings (the phone region hints follow the detected language).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import accumulate
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
from lxml import etree

from crawler.extract.decode import decode_html
from crawler.extract.entities import find_entities
from crawler.extract.pivots import analytics_ids, dom_hash, pgp_keyids
from identifiers import IDENTIFIERS
from identifiers.phone import regions_for_lang

# Elements whose content is not shown to a reader.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "math"})
# Elements that separate lines of text.
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "ul", "option", "select", "textarea",
})
_LINK_ATTRS = (("a", "href"), ("area", "href"), ("iframe", "src"), ("frame", "src"))
_MEDIA_ATTRS = (("img", "src"), ("source", "src"), ("video", "poster"), ("input", "src"))
_SPACES_RE = re.compile(r"[^\S\n]+")
# A whole whitespace-separated token of letters (trailing punctuation allowed).
_PLAIN_WORD_RE = re.compile(r"(?<!\S)(([^\W\d_]{1,24})[.,;:!?'\")]*)(?!\S)")
_FETCHABLE = ("http://", "https://")
# A tag this long is checked for attribute soup.
_LONG_TAG_RE = re.compile(r"<([A-Za-z][^\s<>/]*)([^<>]{4096,})>")
_ATTR_RE = re.compile(r"""\s*[^\s=>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?""")
MAX_ATTRIBUTES = 256
LANG_MIN_CHARS = 40
LANG_MIN_PROB = 0.90
# The language is read from the first LANG_SAMPLE_CHARS characters of plain words (the
# identifier's cost grows with every byte; a couple of thousand characters settle it), taken
# from at most LANG_SCAN_CHARS of the page's text.
LANG_SAMPLE_CHARS = 2_000
LANG_SCAN_CHARS = 20_000
LANG_WINDOW_CHARS = 4 * LANG_SAMPLE_CHARS


@dataclass(frozen=True)
class ExtractedPage:
    url: str
    title: str = ""
    text: str = ""
    lang: str = ""
    links: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    entities: dict[str, list[str]] = field(default_factory=dict)
    charset: str = ""
    # Pivots read from the page alone (dom, analytics, pgp_keyid; crawler.extract.pivots).
    pivots: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["links"] = list(self.links)
        data["media_urls"] = list(self.media_urls)
        return data


@cache
def _identifier() -> Any:
    # The model is loaded on first use, not at import.
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    class Float32Identifier(LanguageIdentifier):  # type: ignore[misc]
        """The model with its feature table widened from float16 to float32 once, at load.

        Each page's score multiplies a float32 vector by the table's rows; on float16 rows
        numpy widens them for every page first, which was most of the scoring's time. The
        widening is exact and the product is the same float32 one, so every answer is the
        model's to the bit, for 28 MB more.
        """

        def __init__(self, nb_ptc: Any, *args: Any, **kwargs: Any):
            super().__init__(np.asarray(nb_ptc, dtype=np.float32), *args, **kwargs)

    return Float32Identifier.from_model_file(MODEL_FILE, norm_probs=True)


def _plain_words(text: str, end: int) -> tuple[list[tuple[str, str]], int]:
    """The plain words (and their letters) in ``text[:end]``, and the position of the one
    that fills the language sample."""
    found = _PLAIN_WORD_RE.findall(text, 0, end)
    ends = list(accumulate(len(word) + 1 for word, _ in found))
    return found, bisect_right(ends, LANG_SAMPLE_CHARS)


def _words_sample(text: str) -> tuple[str, int]:
    """The first ``LANG_SAMPLE_CHARS`` of the plain words in ``text``, and their letters.

    Addresses, hashes and base64 lines are not language: every token with a digit or longer
    than any ordinary word is left out. Reading stops once the sample is full.
    """
    # The words are read from a window a few samples long, in one findall: a loop over match
    # objects cost half as much as the model's walk. A word that ends at the window's edge
    # may be cut, so the window's words stand only when the sample fills before its last
    # one; otherwise the whole text is read, which gives the same words.
    found, full = _plain_words(text, LANG_WINDOW_CHARS)
    if full >= len(found) - 1 and len(text) > LANG_WINDOW_CHARS:
        found, full = _plain_words(text, len(text))
    taken = found[:full + 1]
    return " ".join(word for word, _ in taken)[:LANG_SAMPLE_CHARS], sum(
        len(letters) for _, letters in taken)


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text``, or '' when it is too short or the model is unsure."""
    sample, letters = _words_sample(text[:LANG_SCAN_CHARS])
    if letters < LANG_MIN_CHARS:
        return ""
    lang, prob = _identifier().classify(sample)
    return str(lang) if prob >= LANG_MIN_PROB else ""


def _trim_attributes(match: re.Match[str]) -> str:
    attrs = _ATTR_RE.findall(match.group(2))[:MAX_ATTRIBUTES]
    return f"<{match.group(1)}{''.join(attrs)}>"


def defuse(text: str) -> str:
    """Cut tags with huge attribute lists down to ``MAX_ATTRIBUTES`` attributes: libxml2 checks
    attribute names pairwise, so 50,000 attributes on one tag cost seconds of CPU."""
    return _LONG_TAG_RE.sub(_trim_attributes, text)


def _parse(text: str) -> etree._Element | None:
    try:
        return lxml.html.document_fromstring(defuse(text))
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def _visible_parts(root: etree._Element) -> Iterator[str]:
    skip = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else None  # comments, PIs
        hidden = tag is None or tag in _HIDDEN
        if event == "start":
            if hidden:
                skip += 1
            elif not skip:
                if tag in _BLOCK:
                    yield "\n"
                if el.text:
                    yield el.text
            continue
        if hidden:
            skip -= 1
        elif not skip and tag in _BLOCK:
            yield "\n"
        if not skip and el.tail:
            yield el.tail


def visible_text(root: etree._Element) -> str:
    """Text a reader sees: no script/style/head, one line per block, spaces collapsed."""
    raw = "".join(_visible_parts(root))
    lines = (_SPACES_RE.sub(" ", line).strip() for line in raw.split("\n"))
    return "\n".join(line for line in lines if line)


def _title(root: etree._Element) -> str:
    el = root.find(".//title")
    if el is None:
        return ""
    return " ".join(el.text_content().split())


def _attr_values(root: etree._Element, pairs: Sequence[tuple[str, str]]) -> Iterator[str]:
    for tag, attr in pairs:
        for el in root.iter(tag):
            value = el.get(attr)
            if value:
                yield value.strip()


def _base_url(root: etree._Element, url: str) -> str:
    base = root.find(".//base[@href]")
    if base is None:
        return url
    try:
        return urljoin(url, base.get("href", "").strip())
    except ValueError:
        return url


def _absolute(base: str, values: Iterator[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for value in values:
        try:
            absolute = urldefrag(urljoin(base, value)).url
        except ValueError:  # e.g. a malformed IPv6 host
            continue
        if absolute.lower().startswith(_FETCHABLE):
            out[absolute] = None
    return tuple(out)


def extract_page(
    url: str,
    body: bytes,
    headers: Mapping[Any, Any] | None = None,
    *,
    regions: Sequence[str] | None = None,
) -> ExtractedPage:
    """Extract everything from one response body. ``headers`` may be str or bytes (Scrapy's
    ``Headers``); only Content-Type is read. ``regions`` overrides the phone hints that
    otherwise follow the detected language."""
    text, charset = decode_html(body, headers)
    root = _parse(text)
    if root is None:
        return ExtractedPage(url=url, charset=charset, entities=find_entities(""))
    base = _base_url(root, url)
    visible = visible_text(root)
    raw_refs = list(_attr_values(root, _LINK_ATTRS))
    raw_media = list(_attr_values(root, _MEDIA_ATTRS))
    lang = detect_language(visible)
    hints = regions_for_lang(lang) if regions is None else tuple(regions)
    # Entities are looked for in what a reader sees and in link targets (mailto:, magnet:,
    # onion URLs), never in scripts or comments.
    entity_text = "\n".join([visible, *raw_refs, *raw_media])
    entities = find_entities(entity_text, hints)
    return ExtractedPage(
        url=url,
        title=_title(root),
        text=visible,
        lang=lang,
        links=_absolute(base, iter(raw_refs)),
        media_urls=_absolute(base, iter(raw_media)),
        entities=entities,
        charset=charset,
        pivots=page_pivots(root, text, url, entities.get("pgp", []), visible),
    )


def page_pivots(root: etree._Element, html: str, url: str, fingerprints: Sequence[str],
                visible: str) -> dict[str, list[str]]:
    """The pivots a page carries in itself: its DOM skeleton, tracker ids (scripts
    included) and PGP key ids; empty ones left out."""
    dom = dom_hash(root)
    found = {
        "dom": [dom] if dom else [],
        "analytics": analytics_ids(html, urlsplit(url).hostname or ""),
        "pgp_keyid": pgp_keyids(fingerprints, visible),
    }
    return {name: values for name, values in found.items() if values}


def named_onion_urls(page: ExtractedPage) -> tuple[str, ...]:
    """``http://<onion>/`` for every v3 onion the page names (in its text or its link
    targets, checksum-checked by the onion identifier; v2 names are not addresses any more)
    that is neither the page's own host nor the host of one of its links, in first
    occurrence order. The crawl's scope rules still decide whether one is fetched."""
    onion = IDENTIFIERS.get("onion")
    known = set(onion.find("\n".join((page.url, *page.links))))
    named = page.entities.get("onions", ())
    return tuple(f"http://{host}/" for host in named if host not in known)
