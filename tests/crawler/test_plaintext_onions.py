"""Onions written out in a page's text (not linked) become new services to crawl: v3 only,
checksum-checked by the onion identifier, never the page's own host or one it links to."""

from __future__ import annotations

import hashlib

from crawler.extract.page import extract_page, named_onion_urls
from crawler.middlewares.scope import scope_problem
from identifiers.onion import onion_address


def _onion(name: str) -> str:
    return onion_address(hashlib.sha256(name.encode()).digest())


def _broken(address: str) -> str:
    """The same address with one character changed: its checksum no longer matches."""
    label = address.removesuffix(".onion")
    i = 10
    return label[:i] + ("a" if label[i] != "a" else "b") + label[i + 1 :] + ".onion"


SELF, LINKED, NAMED, UPPER, SUB = (_onion(n) for n in ("self", "linked", "named", "up", "sub"))
V2 = "expyuzz4wqqyqhjn.onion"


def _page() -> bytes:
    return f"""<html><head><title>Directory</title>
    <script>var hidden = "{_onion('script')}";</script></head><body>
    <p>Our own address is {SELF}. The forum moved: see <a href="http://{LINKED}/f">here</a>
    or write down {NAMED} and {UPPER.upper()}.</p>
    <pre>backup: www.{SUB}/index.html
    old v2 (retired): {V2}
    typo: {_broken(_onion('typo'))}
    again: {NAMED}</pre></body></html>""".encode()


def test_onions_named_in_text_become_front_page_urls() -> None:
    page = extract_page(f"http://{SELF}/", _page(), {"Content-Type": "text/html"})
    assert named_onion_urls(page) == (
        f"http://{NAMED}/",
        f"http://{UPPER}/",
        f"http://{SUB}/",
    )
    # Each one is a valid v3 onion, so the scope rules let it into the frontier.
    assert all(scope_problem(url) is None for url in named_onion_urls(page))


def test_bad_checksums_v2_names_and_scripts_are_not_services() -> None:
    page = extract_page(f"http://{SELF}/", _page(), {"Content-Type": "text/html"})
    named = "\n".join(named_onion_urls(page))
    assert V2 not in named
    assert _broken(_onion("typo")).removesuffix(".onion") not in named
    assert _onion("typo") not in named  # a mistyped address is not "corrected" either
    assert _onion("script") not in named
    assert SELF not in named and LINKED not in named


def test_a_plain_text_page_names_onions_too() -> None:
    body = f"mirrors:\n{NAMED}\n{_broken(SUB)}\n".encode()
    page = extract_page(f"http://{SELF}/list.txt", body, {"Content-Type": "text/plain"})
    assert named_onion_urls(page) == (f"http://{NAMED}/",)
