"""``extract_page``: title, visible text, language, links, charset; hostile input never raises."""

from __future__ import annotations

import gzip

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract.entities import ENTITY_KEYS
from crawler.extract.page import (
    MAX_ATTRIBUTES,
    ExtractedPage,
    defuse,
    detect_language,
    extract_page,
)
from identifiers.onion import onion_address

ONION = onion_address(bytes(range(32)))
URL = f"http://{ONION}/dir/page.html"
ENGLISH = ("Orders placed before noon usually ship the same day. Please read the forum rules "
           "before you post a new thread.")


def test_title_text_links_media():
    body = f"""<!DOCTYPE html><html><head><title> Shop  &amp; more </title>
    <style>p {{ color: red }}</style><script>var hidden = "x@example.com";</script></head>
    <body><h1>Welcome</h1><p>{ENGLISH}</p><!-- note@example.com -->
    <a href="../other.html#top">other</a> <a href="/dir/page.html#x">self</a>
    <a href="http://{ONION}/other.html">dup</a> <a href="javascript:void(0)">js</a>
    <a href="mailto:shop@example.com">mail</a> <img src="img/a.png"><img src="//cdn.example/b.jpg">
    <noscript>enable scripts</noscript></body></html>""".encode()
    page = extract_page(URL, body)
    assert isinstance(page, ExtractedPage)
    assert page.title == "Shop & more"
    assert page.text.splitlines()[0] == "Welcome"
    assert "hidden" not in page.text and "color" not in page.text and "note@" not in page.text
    assert "enable scripts" not in page.text
    assert page.links == (f"http://{ONION}/other.html", URL)
    assert page.media_urls == (f"http://{ONION}/dir/img/a.png", "http://cdn.example/b.jpg")
    assert page.entities["emails"] == ["shop@example.com"]
    assert page.lang == "en" and page.charset == "utf-8"
    assert set(page.entities) == set(ENTITY_KEYS)


def test_base_href_is_respected():
    body = b'<html><head><base href="http://base.example/sub/"></head><a href="x.html">x</a>'
    assert extract_page(URL, body).links == ("http://base.example/sub/x.html",)


def test_script_title_is_kept_as_text():
    body = b"<html><head><title><script>alert(1)</script></title></head><body>hi</body></html>"
    page = extract_page(URL, body)
    assert page.title == "<script>alert(1)</script>"
    assert page.text == "hi"


def test_charset_from_header_meta_and_fallback():
    text = "Добро пожаловать на форум, здесь обсуждают доставку и заказы каждый день."
    cp = f"<html><head><meta charset='windows-1251'></head><body><p>{text}</p>".encode("cp1251")
    page = extract_page(URL, cp)
    assert page.charset == "cp1251" and text in page.text and page.lang == "ru"
    header = extract_page(URL, f"<p>{text}</p>".encode("koi8-r"),
                          {"content-type": "text/html; charset=KOI8-R"})
    assert header.charset == "koi8-r" and text in header.text
    latin = extract_page(URL, "<p>Café crème à la façon</p>".encode("latin-1"))
    assert latin.charset == "cp1252" and "Café crème" in latin.text
    broken = extract_page(URL, b"<title>Broken \xff\xfe</title><p>ok \xc3\x28</p>",
                          {"Content-Type": "text/html; charset=utf-8"})
    assert broken.title == "Broken \ufffd\ufffd" and broken.text.startswith("ok")
    unknown = extract_page(URL, b"<meta charset='x-nonsense'><p>plain</p>")
    assert unknown.text == "plain" and unknown.charset == "utf-8"


def test_language_unsure_gives_empty():
    assert detect_language("ok") == ""
    assert detect_language(ENGLISH) == "en"
    assert detect_language("0x" + "ab" * 40 + " " + "QmFzZTY0IGxpbmU=" * 20) == ""


def test_entities_from_text_and_hrefs_not_scripts():
    body = f"""<p>{ENGLISH}</p><p>mirror {ONION} call (201) 555-0123</p>
    <a href="magnet:?xt=urn:btih:{'ab' * 20}&amp;dn=x">get</a>
    <script>var other = "{onion_address(bytes(32))}";</script>""".encode()
    page = extract_page(URL, body)
    assert page.entities["onions"] == [ONION]
    assert page.entities["phones"] == ["+12015550123"]
    assert page.entities["magnets"] == [f"magnet:?xt=urn:btih:{'ab' * 20}&dn=x"]
    assert page.entities["infohashes"] == ["ab" * 20]
    # Phone hints can be forced: no regions means international numbers only.
    assert extract_page(URL, body, regions=()).entities["phones"] == []


def test_hostile_inputs_never_raise():
    cases = [
        b"",
        b"   ",
        b"\x00\x01\x02<html>\x00<title>\x00nul</title>",
        b"<" * 10000,
        b"<a href='http://[::1'>bad ipv6</a><a href='http://x:99999/'>port</a>",
        b"<div " + b" ".join(b'a%d="%s"' % (i, b"x" * 50) for i in range(20000)) + b">soup</div>",
        b"<p>" * 5000 + b"deep" + b"</p>" * 5000,
        gzip.compress(b"<html>" * 1000),
        b"\xef\xbb\xbf<p>bom</p>",
        b"\xff\xfe<\x00p\x00>\x00u\x00t\x00f\x001\x006\x00",
        "<title>\ud800</title>".encode("utf-8", "surrogatepass"),
        b"<?xml version='1.0' encoding='utf-8'?><html><body>xml decl</body></html>",
    ]
    for body in cases:
        page = extract_page(URL, body)
        assert isinstance(page.text, str) and set(page.entities) == set(ENTITY_KEYS)


def test_attribute_soup_is_cut_before_parsing():
    # libxml2 compares attribute names pairwise: 50,000 on one tag would cost seconds.
    soup = "<div " + " ".join(f'data-k{i}="{"v" * 100}"' for i in range(50000)) + ">soup</div>"
    defused = defuse(soup)
    assert defused.count("data-k") == MAX_ATTRIBUTES
    assert extract_page(URL, soup.encode()).text == "soup"
    # Ordinary long tags (inline images) are left alone.
    inline = '<img src="data:image/png;base64,' + "A" * 10000 + '" alt="x">'
    assert defuse(inline) == inline


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=4096),
       ctype=st.sampled_from(["", "text/html", "text/html; charset=utf-16", "charset=\x00"]))
def test_arbitrary_bytes_never_raise(body, ctype):
    page = extract_page(URL, body, {"Content-Type": ctype} if ctype else None)
    assert set(page.entities) == set(ENTITY_KEYS)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=2000))
def test_arbitrary_markup_text_never_raises(text):
    page = extract_page(URL, f"<html><title>{text}</title><body><a href='{text}'>{text}</a>".encode(
        "utf-8", "surrogatepass"))
    assert isinstance(page.title, str)


def test_scrapy_style_bytes_headers():
    text = "Добро пожаловать"
    body = f"<p>{text}</p>".encode("cp1251")
    page = extract_page(URL, body, {b"Content-Type": [b"text/html; charset=windows-1251"]})
    assert page.charset == "cp1251" and page.text == text
