"""Classify one fetch as content or as a challenge: a pure function over status, headers, body.

States (``ACCESS_STATES``):

* ``content``: an ordinary page (one that merely *links* to a login form is content);
* ``rate-limited``: HTTP 429, a 503 with ``Retry-After``, or a short "slow down" page;
* ``queue``: a waiting page (DDoS-protection queue, refresh/redirect loop, proof of work);
* ``captcha``: a challenge form with an image or puzzle;
* ``login``: a login/registration wall (a password form and little else) where content was
  expected;
* ``js-required``: no visible text, and a page built by script.

The result carries why (a short phrase naming the evidence) and, for queues and rate limits,
how long the page asks the client to wait and where its refresh points. Hostile bytes give
``content`` or a challenge, never an exception. Reads no settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from crawler.extract.decode import decode_html
from crawler.extract.page import defuse, visible_text

CONTENT = "content"
QUEUE = "queue"
CAPTCHA = "captcha"
LOGIN = "login"
RATE_LIMITED = "rate-limited"
JS_REQUIRED = "js-required"
ACCESS_STATES = (CONTENT, QUEUE, CAPTCHA, LOGIN, RATE_LIMITED, JS_REQUIRED)
CHALLENGES = frozenset(ACCESS_STATES) - {CONTENT}
# What an analyst has to do for a service in each challenge state.
NEEDS = {
    QUEUE: "nothing: the crawler waits the queue out",
    CAPTCHA: "a session made in Tor Browser (heroes sessions import)",
    LOGIN: "a session or a form login for an account",
    RATE_LIMITED: "nothing: the crawler slows down and retries",
    JS_REQUIRED: "rendering (crawler.render) for this onion",
}

# A challenge page is short: beyond this much visible text a page is the site's content.
SHORT_TEXT = 1500
# A page with less visible text than this (and scripts) is an empty shell.
EMPTY_TEXT = 40
# Text outside the login form of a login wall, at most.
LOGIN_OTHER_TEXT = 400

_QUEUE_WORDS = re.compile(
    r"\b(queue|in line|waiting room|please wait|you will be redirected|checking your browser|"
    r"ddos protection|proof[- ]of[- ]work|position\s*(?:#|no\.?|:)?\s*\d+)\b",
    re.IGNORECASE,
)
# A page that says the visitor is queued, short enough to be nothing else.
_IN_QUEUE = re.compile(
    r"\b(you are in (?:the )?(?:waiting )?(?:queue|line)|waiting room|"
    r"your (?:position|place) in (?:the )?(?:queue|line)|queue position)\b",
    re.IGNORECASE,
)
QUEUE_TEXT = 500
_POW_WORDS = re.compile(r"proof[-_ ]?of[-_ ]?work|hashcash|\bpow[-_ ]?(?:challenge|nonce)",
                        re.IGNORECASE)
_CAPTCHA_WORDS = re.compile(
    r"captcha|enter the (?:characters|letters|code)|type the (?:characters|letters|text)|"
    r"solve the (?:puzzle|challenge)|prove you are (?:human|not a robot)|security check",
    re.IGNORECASE,
)
_SLOW_WORDS = re.compile(
    r"too many requests|rate limit|slow down|request limit|try again (?:in|later)",
    re.IGNORECASE,
)
_JS_WORDS = re.compile(r"(?:enable|requires?|needs?|turn on)\s+javascript", re.IGNORECASE)
_REFRESH_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*(?:[;,]\s*(?:url\s*=\s*)?['\"]?([^'\"]*)['\"]?)?",
                         re.IGNORECASE)


@dataclass(frozen=True)
class Access:
    """The verdict on one fetch. ``wait_s``/``next_url``: what the page asks for (queues,
    rate limits), when it says."""

    state: str
    why: str
    wait_s: float | None = None
    next_url: str | None = None

    @property
    def challenge(self) -> bool:
        return self.state != CONTENT

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "why": self.why}
        if self.wait_s is not None:
            out["wait_s"] = self.wait_s
        if self.next_url is not None:
            out["next_url"] = self.next_url
        return out


def _header(headers: Mapping[Any, Any] | None, name: str) -> str:
    if not headers:
        return ""
    wanted = name.lower()
    for key, value in headers.items():
        k = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if k.lower() != wanted:
            continue
        if isinstance(value, list | tuple):
            value = value[0] if value else b""
        return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return ""


def retry_after_s(value: str) -> float | None:
    """Seconds from a ``Retry-After`` value (delta seconds or an HTTP date), None if unusable."""
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    from documents.base import utcnow

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - utcnow()).total_seconds())


def parse_refresh(value: str, base_url: str) -> tuple[float | None, str | None]:
    """(delay, absolute target) of a Refresh header or ``<meta http-equiv=refresh>`` value."""
    match = _REFRESH_RE.match(value or "")
    if not match or not (match.group(1) or match.group(2)):
        return None, None
    delay = float(match.group(1)) if match.group(1) else 0.0
    target = (match.group(2) or "").strip()
    try:
        url = urljoin(base_url, target) if target else base_url
    except ValueError:
        url = base_url
    return delay, url


@dataclass(frozen=True)
class _Doc:
    text: str
    other_text: str  # visible text outside forms
    refresh: str
    scripts: int
    script_text: str
    noscript: str
    password_forms: int
    captcha_forms: int
    forms_text: str


def _parse(body: bytes, headers: Mapping[Any, Any] | None) -> _Doc | None:
    text, _charset = decode_html(body, headers)
    try:
        root = lxml.html.document_fromstring(defuse(text))
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
    refresh = ""
    for meta in root.iter("meta"):
        if (meta.get("http-equiv") or "").strip().lower() == "refresh":
            refresh = meta.get("content") or ""
            break
    scripts = list(root.iter("script"))
    script_text = " ".join((s.text or "") + " " + (s.get("src") or "") for s in scripts)[:20_000]
    noscript = " ".join(n.text_content() for n in root.iter("noscript"))[:2000]
    password_forms = captcha_forms = 0
    forms_text: list[str] = []
    for form in root.iter("form"):
        inputs = list(form.iter("input"))
        names = " ".join(
            f"{i.get('name') or ''} {i.get('id') or ''} {i.get('placeholder') or ''}"
            for i in inputs
        )
        label = form.text_content()
        forms_text.append(label)
        if any((i.get("type") or "").lower() == "password" for i in inputs):
            password_forms += 1
        has_image = any(True for _ in form.iter("img", "canvas")) or any(
            (i.get("type") or "").lower() == "image" for i in inputs
        )
        if _CAPTCHA_WORDS.search(names + " " + label) and (has_image or inputs):
            captcha_forms += 1
        elif has_image and re.search(r"captcha|challenge", names, re.IGNORECASE):
            captcha_forms += 1
    visible = visible_text(root)
    for form in list(root.iter("form")):
        form.drop_tree()
    other = visible_text(root)
    return _Doc(visible, other, refresh, len(scripts), script_text, noscript,
                password_forms, captcha_forms, " ".join(forms_text))


def classify(
    status: int, headers: Mapping[Any, Any] | None, body: bytes, url: str = "",
    *, rendered: bool = False,
) -> Access:
    """The access state of one response (see the module docstring). ``rendered``: the body
    is a DOM after its scripts ran, so it is never ``js-required`` (its ``<noscript>`` text
    is still there, but no longer what a visitor sees)."""
    retry_after = retry_after_s(_header(headers, "Retry-After"))
    if status == 429:
        return Access(RATE_LIMITED, "HTTP 429 Too Many Requests"
                      + (f", Retry-After {retry_after:g} s" if retry_after is not None else ""),
                      wait_s=retry_after)
    ctype = _header(headers, "Content-Type").split(";")[0].strip().lower()
    htmlish = not ctype or ctype.startswith("text/") or "html" in ctype or "xml" in ctype
    doc = _parse(body, headers) if htmlish and body else None
    refresh_value = _header(headers, "Refresh") or (doc.refresh if doc else "")
    delay, target = parse_refresh(refresh_value, url) if refresh_value else (None, None)
    if status == 503 and retry_after is not None:
        if doc is not None and _QUEUE_WORDS.search(doc.text):
            return Access(QUEUE, f"HTTP 503 waiting page, Retry-After {retry_after:g} s",
                          wait_s=retry_after, next_url=target or url or None)
        return Access(RATE_LIMITED, f"HTTP 503 with Retry-After {retry_after:g} s",
                      wait_s=retry_after)
    if doc is None:
        return Access(CONTENT, "not an HTML page" if body else "empty body")
    short = len(doc.text) <= SHORT_TEXT
    if doc.captcha_forms and short:
        return Access(CAPTCHA, "a challenge form with an image or puzzle")
    if short and _POW_WORDS.search(doc.text + " " + doc.script_text):
        return Access(QUEUE, "a proof-of-work page", wait_s=delay, next_url=target)
    if refresh_value and short:
        same_site = target is None or _same_host(target, url)
        if same_site and (_QUEUE_WORDS.search(doc.text) or len(doc.text) <= EMPTY_TEXT * 5):
            return Access(QUEUE, f"a waiting page that refreshes after {delay or 0:g} s",
                          wait_s=delay, next_url=target)
    if len(doc.text) <= QUEUE_TEXT and status in (200, 202, 503) and _IN_QUEUE.search(doc.text):
        return Access(QUEUE, "a queue page", wait_s=delay, next_url=target)
    if status == 503 and short and _SLOW_WORDS.search(doc.text):
        return Access(RATE_LIMITED, "HTTP 503 asking to slow down")
    if short and len(doc.text) <= SHORT_TEXT // 3 and _SLOW_WORDS.search(doc.text):
        return Access(RATE_LIMITED, "the site's own slow-down page")
    if doc.password_forms and (len(doc.other_text) <= LOGIN_OTHER_TEXT or status in (401, 403)):
        return Access(LOGIN, "a login form where content was expected"
                      + (f" (HTTP {status})" if status in (401, 403) else ""))
    if rendered:
        return Access(CONTENT, "a page rendered with JavaScript")
    if len(doc.text) <= EMPTY_TEXT and doc.scripts:
        return Access(JS_REQUIRED, f"no text without JavaScript ({doc.scripts} scripts)")
    if len(doc.text) <= SHORT_TEXT // 3 and _JS_WORDS.search(doc.noscript + " " + doc.text):
        return Access(JS_REQUIRED, "the page asks for JavaScript")
    return Access(CONTENT, "an ordinary page")


def _same_host(target: str, url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return not url or urlsplit(target).hostname == urlsplit(url).hostname
    except ValueError:
        return False
