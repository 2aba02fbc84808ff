"""Extraction speed: pages/s on one core over the generated onion sites.

Runs ``extract_page`` (decode, parse, visible text, language, links, every entity validated)
over every page of a generated world, and in the same process a baseline: lxml's own
``document_fromstring`` + ``text_content()`` + ``iterlinks()`` with no validation, no
language and no entities — the least any extractor does; and the same extraction as ours
(visible text, links and media, language, entities) with the tree built by BeautifulSoup's
lxml tree builder, the parser the original design named. Prints pages/s for each, the
ratios, and where our time goes (stage by stage). ``--smoke``: 30 pages, one pass. Single
process, single thread, so pages/s is per core.

    .venv/bin/python bench/extract.py [--pages 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
from bs4 import BeautifulSoup
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from bench.common.memory import rss_mb
from crawler.extract.decode import decode_html
from crawler.extract.entities import find_entities
from crawler.extract.page import (
    LANG_SCAN_CHARS,
    _parse,
    _words_sample,
    detect_language,
    extract_page,
    visible_text,
)
from heroes.lab.onion_sites import generate_sites
from identifiers.phone import regions_for_lang


def baseline(url: str, body: bytes) -> tuple[str, list[str]]:
    doc = lxml.html.document_fromstring(body, base_url=url)
    doc.make_links_absolute(url, handle_failures="ignore")
    return doc.text_content(), [link for _, _, link, _ in doc.iterlinks()]


_SOUP_LINKS = (("a", "href"), ("area", "href"), ("iframe", "src"), ("frame", "src"))
_SOUP_MEDIA = (("img", "src"), ("source", "src"), ("video", "poster"), ("input", "src"))


def with_soup(url: str, body: bytes) -> tuple[str, list[str], dict[str, list[str]]]:
    """Our extraction's steps on a BeautifulSoup tree (lxml tree builder)."""
    text, _ = decode_html(body)
    soup = BeautifulSoup(text, "lxml")
    for hidden in soup(["script", "style", "noscript", "template"]):
        hidden.decompose()
    visible = " ".join(soup.get_text(" ").split())
    refs = [str(tag[attr]) for name, attr in _SOUP_LINKS for tag in soup.find_all(name)
            if tag.has_attr(attr)]
    media = [str(tag[attr]) for name, attr in _SOUP_MEDIA for tag in soup.find_all(name)
             if tag.has_attr(attr)]
    links = [urljoin(url, r) for r in refs]
    hints = regions_for_lang(detect_language(visible))
    return visible, links, find_entities("\n".join([visible, *refs, *media]), hints)


def _rate(fn: Callable[[str, bytes], object], pages: list[tuple[str, bytes]], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for url, body in pages:
            fn(url, body)
        best = min(best, time.perf_counter() - start)
    return len(pages) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500, help="pages of the big generated site")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many passes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (30 pages, 1 pass)")
    args = parser.parse_args()
    if args.smoke:
        args.pages, args.rounds = 30, 1
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate_sites(Path(tmp), seed=1, big_site_pages=args.pages)
        pages = [(url, (Path(tmp) / info["file"]).read_bytes())
                 for url, info in truth["pages"].items()]
    size = sum(len(b) for _, b in pages)
    extract_page(*pages[0])  # load the language model outside the timing
    ours = _rate(extract_page, pages, args.rounds)
    base = _rate(baseline, pages, args.rounds)
    print(f"pages: {len(pages)} ({size / len(pages) / 1024:.1f} KiB average)")
    print(f"extract_page:             {ours:8.0f} pages/s per core")
    print(f"baseline lxml text+links: {base:8.0f} pages/s per core")
    print(f"ratio ours/baseline:      {ours / base:8.2f}")
    soup = _rate(with_soup, pages, args.rounds)
    print(f"same with BeautifulSoup:  {soup:8.0f} pages/s per core "
          f"(ours is {ours / soup:.1f}x as fast)")
    print(f"resident memory:          {rss_mb():8.0f} MiB")

    # py3langid's identifier as it loads, for the language stage's ratio (same samples).
    shipped = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    texts = [visible_text(_parse(decode_html(b)[0])) for _, b in pages]
    stages: dict[str, Callable[[], object]] = {
        "decode+parse": lambda: [_parse(decode_html(b)[0]) for _, b in pages],
        "visible text": lambda: [visible_text(_parse(decode_html(b)[0])) for _, b in pages],
        "language": lambda: [detect_language(t) for t in texts],
        "language (as shipped)": lambda: [shipped.classify(_words_sample(
            t[:LANG_SCAN_CHARS])[0]) for t in texts],
        "entities (no phones)": lambda: [find_entities(t, ()) for t in texts],
        "entities (en phones)": lambda: [find_entities(t, ("US", "GB")) for t in texts],
    }
    for name, run in stages.items():
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        print(f"  {name:22s} {elapsed / len(pages) * 1e3:7.3f} ms/page")


if __name__ == "__main__":
    main()
