"""Pivot extraction on synthetic pages and images: favicon, headers, DOM, analytics, PGP, EXIF."""

from __future__ import annotations

import base64
import io

import lxml.html
import mmh3
import pytest
from PIL import Image, ImageDraw
from PIL.ExifTags import GPS, IFD, Base

from crawler.extract.media import hash_media
from crawler.extract.page import extract_page
from crawler.extract.pivots import (
    PivotError,
    analytics_ids,
    dom_hash,
    exif_pivots,
    favicon_hash,
    favicon_url,
    headers_hash,
    pgp_keyids,
)
from identifiers.pgp import _BLOCK, _FPR


def _png(colour: str = "navy") -> bytes:
    img = Image.new("RGB", (16, 16), "white")
    ImageDraw.Draw(img).ellipse((2, 2, 13, 13), fill=colour)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(*, make: str = "Acme", model: str = "Box 3", serial: str = "SN-0042",
                   gps: bool = True) -> bytes:
    """An innocuous geometric JPEG (squares) with camera, serial and GPS tags."""
    img = Image.new("RGB", (64, 64), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((8, 8, 40, 40), fill="blue")
    draw.rectangle((30, 30, 56, 56), fill="orange")
    exif = Image.Exif()
    exif[Base.Make] = make
    exif[Base.Model] = model
    exif.get_ifd(IFD.Exif)[Base.BodySerialNumber] = serial
    if gps:
        g = exif.get_ifd(IFD.GPSInfo)
        g[GPS.GPSLatitudeRef] = "N"
        g[GPS.GPSLatitude] = (52.0, 30.0, 36.0)
        g[GPS.GPSLongitudeRef] = "W"
        g[GPS.GPSLongitude] = (13.0, 24.0, 0.5)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def broken_exif(body: bytes) -> bytes:
    """``body`` with its EXIF block's TIFF header and first IFD overwritten."""
    at = body.index(b"Exif\x00\x00") + 6
    return body[:at] + b"MM\x00\x2a\x00\x00\xff\xff" + b"\x00" * 20 + body[at + 28:]


# -- favicon -------------------------------------------------------------------------------

def test_favicon_hash_is_shodans_mmh3_of_76_column_base64() -> None:
    body = _png()
    assert len(body) > 57  # more than one base64 line, so the newlines matter
    wrapped = base64.encodebytes(body)
    assert b"\n" in wrapped[:-1]
    expected = mmh3.hash(wrapped)
    assert favicon_hash(body) == str(expected)
    assert favicon_hash(body) != str(mmh3.hash(base64.b64encode(body)))
    assert favicon_hash(_png("red")) != favicon_hash(body)


def test_favicon_of_ico_and_svg_bodies() -> None:
    ico = b"\x00\x00\x01\x00\x01\x00" + bytes(range(64))
    assert favicon_hash(ico).lstrip("-").isdigit()
    assert favicon_hash(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>')


@pytest.mark.parametrize("body", [b"", b"<html><body>Not Found</body></html>", b"\x00junk"])
def test_a_favicon_that_is_no_image_is_an_error(body: bytes) -> None:
    with pytest.raises(PivotError):
        favicon_hash(body)


def test_favicon_url_prefers_the_linked_icon() -> None:
    root = lxml.html.document_fromstring(
        '<html><head><link rel="apple-touch-icon" href="/touch.png">'
        '<link rel="shortcut icon" href="static/i.ico"></head></html>')
    assert favicon_url(root, "http://a.onion/x/page") == "http://a.onion/x/static/i.ico"
    bare = lxml.html.document_fromstring("<html><body>hi</body></html>")
    assert favicon_url(bare, "http://a.onion/x/page") == "http://a.onion/favicon.ico"
    data = lxml.html.document_fromstring('<html><head><link rel=icon href="data:image/png;'
                                         'base64,AAAA"></head></html>')
    assert favicon_url(data, "http://a.onion/") == "http://a.onion/favicon.ico"


# -- headers and DOM -----------------------------------------------------------------------

def test_header_hash_follows_names_and_order_not_case_or_values() -> None:
    one = headers_hash(["Server", "Content-Type", "X-Frame-Options"])
    assert len(one) == 16 and int(one, 16) >= 0
    assert headers_hash([b"server", b"content-type", b"x-frame-options"]) == one
    assert headers_hash(["Content-Type", "Server", "X-Frame-Options"]) != one
    assert headers_hash([]) == ""


def test_dom_hash_is_the_template_not_the_text() -> None:
    a = lxml.html.document_fromstring(
        "<html><body><div class=a><h1>Shop one</h1><p>cheap <b>socks</b></p></div></body></html>")
    b = lxml.html.document_fromstring(
        "<html><body><div id=z><h1>Other</h1><p>tea <b>pots</b></p></div></body></html>")
    c = lxml.html.document_fromstring(
        "<html><body><div><h1>Other</h1><p>tea</p><b>pots</b></div></body></html>")
    assert dom_hash(a) == dom_hash(b)
    assert dom_hash(a) != dom_hash(c)
    assert len(dom_hash(a)) == 16


# -- analytics -----------------------------------------------------------------------------

ANALYTICS_PAGE = """<html><head><title>Forum</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-AB12CD34EF"></script>
<script>gtag('config', 'G-AB12CD34EF'); ga('create', 'UA-123456-7', 'auto');</script>
<script>(function(w,d,s,l,i){})(window,document,'script','dataLayer','GTM-K9X2QW');</script>
<script>
  var _paq = window._paq = window._paq || [];
  (function() {
    var u="//stats.exampleforum.onion/";
    _paq.push(['setTrackerUrl', u+'matomo.php']);
    _paq.push(['setSiteId', '7']);
  })();
</script>
<script>ym(87654321, "init", {clickmap:true});</script>
</head><body><p>Welcome to the board.</p>
<noscript><img src="http://px.example.onion/piwik.php?idsite=3&rec=1"></noscript>
</body></html>"""


def test_analytics_ids_in_scripts_and_pixels() -> None:
    ids = analytics_ids(ANALYTICS_PAGE, "board.onion")
    assert ids[:3] == ["UA-123456-7", "G-AB12CD34EF", "GTM-K9X2QW"]
    assert "ym:87654321" in ids
    assert "matomo:stats.exampleforum.onion/7" in ids
    assert "matomo:px.example.onion/3" in ids
    assert len(ids) == len(set(ids))


def test_matomo_on_the_pages_own_host() -> None:
    html = "<script>var u='/analytics/'; _paq.push(['setSiteId', 12]);</script>"
    assert analytics_ids(html, "shop.onion") == ["matomo:shop.onion/12"]


def test_no_analytics_in_ordinary_text() -> None:
    assert analytics_ids("<p>Model G-3 and UA-x, GTM- and version 1.2</p>") == []


# -- PGP -----------------------------------------------------------------------------------

def test_pgp_key_ids_of_fingerprints_and_written_ids() -> None:
    v4 = "A" * 24 + "0123456789ABCDEF"
    v6 = "FEDCBA9876543210" + "B" * 48
    assert pgp_keyids([v4, v6], "key id 0x00aa11bb22cc33dd") == [
        "0123456789ABCDEF", "FEDCBA9876543210", "00AA11BB22CC33DD"]


def test_extract_page_carries_its_own_pivots() -> None:
    html = ANALYTICS_PAGE.replace("<p>Welcome", f"<pre>{_BLOCK}</pre><p>Welcome")
    page = extract_page("http://board.onion/", html.encode())
    assert page.pivots["analytics"][0] == "UA-123456-7"
    assert page.pivots["pgp_keyid"] == [_FPR[-16:]]
    assert len(page.pivots["dom"][0]) == 16
    assert page.to_dict()["pivots"] == page.pivots


def test_hostile_page_gives_no_pivots_and_no_exception() -> None:
    page = extract_page("http://a.onion/", b"\x00\xff" * 100)
    assert set(page.pivots) <= {"dom"}


# -- EXIF ----------------------------------------------------------------------------------

def test_exif_camera_serial_and_gps() -> None:
    exif = exif_pivots(jpeg_with_exif())
    assert exif is not None
    assert exif.camera == "Acme Box 3"
    assert exif.serial == "SN-0042"
    assert exif.gps == "52.51000,-13.40014"


def test_model_that_repeats_the_make_is_not_doubled() -> None:
    exif = exif_pivots(jpeg_with_exif(make="Acme", model="Acme Box 3", gps=False))
    assert exif is not None and exif.camera == "Acme Box 3" and exif.gps == ""


def test_image_without_exif_has_none() -> None:
    assert exif_pivots(_png()) is None


def test_a_broken_exif_block_is_an_error() -> None:
    with pytest.raises(PivotError, match="EXIF"):
        exif_pivots(broken_exif(jpeg_with_exif()))


def test_media_hashes_carry_exif_and_a_broken_block_keeps_the_hashes() -> None:
    good = hash_media(jpeg_with_exif(), "image/jpeg")
    assert good.exif is not None and good.exif.serial == "SN-0042" and good.exif_error is None
    bad = hash_media(broken_exif(jpeg_with_exif()), "image/jpeg")
    assert bad.exif is None and bad.exif_error and "EXIF" in bad.exif_error
    assert len(bad.sha256) == 64 and bad.pdq is not None


# -- heroes extract ------------------------------------------------------------------------

def test_heroes_extract_shows_pivots(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from heroes.cli import main

    page = tmp_path / "saved.html"
    page.write_text(ANALYTICS_PAGE.replace("<p>Welcome", f"<pre>{_BLOCK}</pre><p>Welcome"))
    args = ["--data-dir", str(tmp_path / "data"), "extract", str(page), "--url",
            "http://board.onion/"]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    pivots = json.loads(result.output)["pivots"]
    assert pivots["analytics"][:3] == ["UA-123456-7", "G-AB12CD34EF", "GTM-K9X2QW"]
    assert pivots["pgp_keyid"] == [_FPR[-16:]]
    assert set(pivots) == {"dom", "analytics", "pgp_keyid"}
    human = CliRunner().invoke(main, args)
    assert human.exit_code == 0 and "pivot analytics: 6" in human.output
    assert "  matomo:stats.exampleforum.onion/7" in human.output
