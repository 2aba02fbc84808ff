"""The access classifier over saved pages: each challenge kind, and content that only looks
like one (a page linking to a login form, a thread with a sidebar login box)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.access.classify import (
    CAPTCHA,
    CONTENT,
    JS_REQUIRED,
    LOGIN,
    QUEUE,
    RATE_LIMITED,
    classify,
    parse_refresh,
    retry_after_s,
)

PAGES = Path(__file__).parent / "access_pages"
HTML = {"Content-Type": "text/html; charset=utf-8"}
URL = "http://example.onion/board/"


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("queue_endgame.html", QUEUE),
        ("queue_pow.html", QUEUE),
        ("captcha.html", CAPTCHA),
        ("login_wall.html", LOGIN),
        ("links_to_login.html", CONTENT),
        ("thread_with_sidebar_login.html", CONTENT),
        ("slow_down.html", RATE_LIMITED),
        ("js_shell.html", JS_REQUIRED),
        ("noscript.html", JS_REQUIRED),
        ("ordinary.html", CONTENT),
    ],
)
def test_saved_pages(name: str, state: str) -> None:
    access = classify(200, HTML, (PAGES / name).read_bytes(), URL)
    assert access.state == state, access
    assert access.why


def test_queue_page_says_when_and_where_to_come_back() -> None:
    access = classify(200, HTML, (PAGES / "queue_endgame.html").read_bytes(), URL)
    assert access.wait_s == 5
    assert access.next_url == "http://example.onion/"


def test_429_with_retry_after() -> None:
    access = classify(429, {b"Retry-After": [b"7"]}, b"<html><body>busy</body></html>", URL)
    assert (access.state, access.wait_s) == (RATE_LIMITED, 7)
    assert "429" in access.why


def test_503_with_retry_after_is_rate_limited_and_without_is_content() -> None:
    assert classify(503, {"Retry-After": "3"}, b"", URL).state == RATE_LIMITED
    error_page = b"<html><body><h1>Service unavailable</h1><p>Backend down.</p></body></html>"
    assert classify(503, HTML, error_page, URL).state == CONTENT


def test_refresh_header_on_a_short_page_is_a_queue() -> None:
    access = classify(200, {"Refresh": "3", **HTML}, b"<html><body>one moment</body></html>", URL)
    assert (access.state, access.wait_s, access.next_url) == (QUEUE, 3, URL)


def test_login_wall_answered_with_401_even_with_more_text() -> None:
    body = (PAGES / "thread_with_sidebar_login.html").read_bytes()
    assert classify(401, HTML, body, URL).state == LOGIN


@pytest.mark.parametrize(
    "body", [b"", b"\x00\xff\xfe" * 100, b"<html><body>" + b"<div>" * 5000, b"\x89PNG\r\n"]
)
def test_hostile_or_empty_bodies_never_raise(body: bytes) -> None:
    assert classify(200, HTML, body, URL).state in (CONTENT, JS_REQUIRED)


def test_non_html_is_content() -> None:
    assert classify(200, {"Content-Type": "image/png"}, b"\x89PNG....", URL).state == CONTENT


def test_retry_after_values() -> None:
    assert retry_after_s("120") == 120
    assert retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_s("") is None


def test_refresh_values() -> None:
    assert parse_refresh("5; url=/next", URL) == (5.0, "http://example.onion/next")
    assert parse_refresh("0;URL='http://example.onion/x'", URL) == (0.0, "http://example.onion/x")
    assert parse_refresh("garbage", URL) == (None, None)


def test_a_short_page_that_mentions_a_queue_is_content() -> None:
    body = (b"<html><body><h1>Print queue</h1><p>Notes on the club's print queue and the "
            b"seed-swap notebook.</p></body></html>")
    assert classify(200, HTML, body, URL).state == CONTENT


def test_a_queue_page_without_refresh_is_a_queue() -> None:
    body = b"<html><body><p>You are in the waiting queue. Keep this tab open.</p></body></html>"
    assert classify(200, HTML, body, URL).state == QUEUE


def test_a_rendered_page_is_never_js_required() -> None:
    body = (b"<html><body><noscript>This site requires JavaScript.</noscript>"
            b"<h1>Lantern notes</h1><p>Evening walks.</p></body></html>")
    assert classify(200, HTML, body, URL).state == JS_REQUIRED
    assert classify(200, HTML, body, URL, rendered=True).state == CONTENT
    assert classify(200, HTML, (PAGES / "login_wall.html").read_bytes(), URL,
                    rendered=True).state == LOGIN
