"""Cookie files to cookies for one onion: Netscape ``cookies.txt`` and the JSON that browser
cookie exporters write (a list of objects with ``name``, ``value``, ``domain``, ``path``,
``expirationDate`` or ``expires``, ``secure``; or ``{"cookies": [...]}``). Pure.

Bad lines (or JSON entries) are :class:`CookieProblem`\\ s naming the line and quoting the
value; cookies for another host are refused (a session for one onion never carries another
site's cookies). Reads no settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from identifiers.onion import is_valid_onion


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    domain: str
    path: str = "/"
    expires: float | None = None  # Unix time; None: a session cookie
    secure: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CookieProblem:
    line: int  # 1-based line (cookies.txt) or entry number (JSON)
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CookieFileError(ValueError):
    """A cookie file with no usable cookie, or not a cookie file at all."""


def _host_matches(domain: str, onion: str) -> bool:
    domain = domain.lower().lstrip(".")
    return domain == onion or onion.endswith("." + domain) or domain.endswith("." + onion)


def parse_netscape(text: str, onion: str) -> tuple[list[Cookie], list[CookieProblem]]:
    cookies, problems = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#HttpOnly_"):
            line = line[len("#HttpOnly_"):]
        elif not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7:
            problems.append(CookieProblem(
                number, f"expected 7 tab-separated fields, found {len(fields)}: {raw[:80]!r}"))
            continue
        domain, _flag, path, secure, expires, name, value = fields
        if not name:
            problems.append(CookieProblem(number, f"cookie without a name: {raw[:80]!r}"))
            continue
        try:
            when = float(expires)
        except ValueError:
            problems.append(CookieProblem(number, f"expiry is not a number: {expires!r}"))
            continue
        if secure.upper() not in ("TRUE", "FALSE"):
            problems.append(CookieProblem(number, f"secure must be TRUE or FALSE: {secure!r}"))
            continue
        if not _host_matches(domain, onion):
            problems.append(CookieProblem(number, f"cookie for another host: {domain!r}"))
            continue
        cookies.append(Cookie(name, value, domain.lstrip("."), path or "/",
                              when if when > 0 else None, secure.upper() == "TRUE"))
    return cookies, problems


def parse_json(text: str, onion: str) -> tuple[list[Cookie], list[CookieProblem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CookieFileError(f"line {exc.lineno}: not valid JSON: {exc.msg}") from exc
    if isinstance(data, dict) and isinstance(data.get("cookies"), list):
        data = data["cookies"]
    if not isinstance(data, list):
        raise CookieFileError("expected a JSON list of cookies (or {\"cookies\": [...]})")
    cookies, problems = [], []
    for number, entry in enumerate(data, 1):
        if not isinstance(entry, dict):
            problems.append(CookieProblem(number, f"entry is not an object: {entry!r:.80}"))
            continue
        name, value = entry.get("name"), entry.get("value")
        domain = entry.get("domain") or entry.get("host") or onion
        if not isinstance(name, str) or not name or not isinstance(value, str):
            problems.append(CookieProblem(
                number, f"entry needs string 'name' and 'value': {entry!r:.80}"))
            continue
        if not isinstance(domain, str) or not _host_matches(domain, onion):
            problems.append(CookieProblem(number, f"cookie for another host: {domain!r}"))
            continue
        expires = entry.get("expirationDate", entry.get("expires"))
        if expires is not None and not isinstance(expires, int | float):
            problems.append(CookieProblem(number, f"expiry is not a number: {expires!r}"))
            continue
        cookies.append(Cookie(name, value, domain.lstrip("."), str(entry.get("path") or "/"),
                              float(expires) if expires else None, bool(entry.get("secure"))))
    return cookies, problems


def parse_cookie_file(text: str, onion: str) -> tuple[list[Cookie], list[CookieProblem]]:
    """Cookies for ``onion`` (a valid v3 host) from either format; CookieFileError when the
    onion is invalid, the file is not a cookie file, or it holds no usable cookie."""
    onion = onion.lower().strip()
    if not is_valid_onion(onion):
        raise CookieFileError(f"not a valid v3 onion address (bad length or checksum): {onion!r}")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        cookies, problems = parse_json(text, onion)
    else:
        cookies, problems = parse_netscape(text, onion)
    if not cookies:
        detail = "; ".join(str(p) for p in problems[:10]) or "the file is empty"
        raise CookieFileError(f"no usable cookie for {onion}: {detail}")
    return cookies, problems


def cookie_header(cookies: list[Cookie], now: float) -> str:
    """The ``Cookie`` header value of the cookies not yet expired."""
    return "; ".join(f"{c.name}={c.value}" for c in cookies
                     if c.expires is None or c.expires > now)
