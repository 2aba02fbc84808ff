"""Pivot material of the generated lab sites: favicons, tracker snippets, EXIF photos.

The forum serves a ``/favicon.ico`` and names a Google tracker id and a Matomo site in its
front page; the market names its icon with ``<link rel="icon">`` and carries a tag-manager
id; the paste site serves an icon that is no image (an error page served in its place);
the market's vendor page shows a photo with EXIF camera, serial and GPS tags, and a paste
page one whose EXIF block is broken. Every image is a few generated shapes. Reads no
settings.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from PIL.ExifTags import GPS, IFD, Base

FORUM_ANALYTICS = ("UA-5550123-4", "matomo:stats.forum-lab.onion/3")
MARKET_ANALYTICS = ("GTM-LAB7Q2X",)
FORUM_SNIPPET = (
    "<script>ga('create', 'UA-5550123-4', 'auto');"
    "var _paq = window._paq || []; var u='//stats.forum-lab.onion/';"
    "_paq.push(['setTrackerUrl', u+'matomo.php']); _paq.push(['setSiteId', '3']);</script>")
MARKET_ICON_PATH = "static/shop-icon.png"
MARKET_HEAD = (f'<link rel="icon" href="/{MARKET_ICON_PATH}">'
               "<script>(function(w,d,s,l,i){})(window,document,'script','dataLayer',"
               "'GTM-LAB7Q2X');</script>")
# What a misconfigured server sends for a missing icon: its HTML error page, as a 200.
BROKEN_FAVICON = b"<html><body><h1>No icon here</h1></body></html>"
PHOTO_CAMERA = "LabCam Model 7"
PHOTO_SERIAL = "LC7-000123"
PHOTO_GPS = "48.85837,2.29448"


def icon(colour: str, shape: str = "circle") -> bytes:
    """A 16x16 PNG icon: one coloured shape on white."""
    img = Image.new("RGB", (16, 16), "white")
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((2, 2, 13, 13), fill=colour)
    else:
        draw.rectangle((3, 3, 12, 12), fill=colour)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def exif_photo(*, broken: bool = False) -> bytes:
    """A 96x64 JPEG of squares, its EXIF naming a camera, serial and position; ``broken``
    overwrites the EXIF block's header and first directory."""
    img = Image.new("RGB", (96, 64), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((6, 6, 40, 40), fill="teal")
    draw.rectangle((48, 20, 90, 58), fill="gold")
    exif = Image.Exif()
    exif[Base.Make] = "LabCam"
    exif[Base.Model] = "Model 7"
    exif.get_ifd(IFD.Exif)[Base.BodySerialNumber] = PHOTO_SERIAL
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = (48.0, 51.0, 30.12)
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = (2.0, 17.0, 40.128)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=90)
    body = out.getvalue()
    if broken:
        at = body.index(b"Exif\x00\x00") + 6
        body = body[:at] + b"MM\x00\x2a\x00\x00\xff\xff" + b"\x00" * 20 + body[at + 28:]
    return body
