"""Logging in on the live console: where a login may send the browser, and the throttle under
parallel attempts."""

from __future__ import annotations

import html
import threading
import urllib.parse

import pytest

from heroes.console.security import safe_next
from heroes.console.users import UserStore
from tests.console.conftest import PASSWORDS, Client, ConsoleThread

# Each is a `next` an attacker may put in a login link; none may lead off the console.
HOSTILE_NEXT = [
    "//evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/\r/evil.example",
    "/%0D/evil.example",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "/%252F/evil.example",
    "/%25252F/evil.example",
    " //evil.example",
    "\t//evil.example",
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
]
# Local targets survive the login unchanged.
LOCAL_NEXT = ["/search", "/search?q=tea%20market&kind=page", "/alerts?status=new", "/"]


def _browser_target(base: str, location: str) -> urllib.parse.SplitResult:
    """Where a browser goes for a ``Location``: as the URL standard parses it, tabs and
    newlines dropped, leading controls and spaces stripped, '\\' read as '/'."""
    cleaned = "".join(c for c in location if c not in "\t\n\r").lstrip("\x00\x01\x02\x03 ")
    cleaned = cleaned.replace("\\", "/")
    return urllib.parse.urlsplit(urllib.parse.urljoin(base + "/login", cleaned))


def _form_login(
    console: ConsoleThread, next_query: str, next_posted: str | None, *, keep: str = "%"
) -> str:
    """Log in through the form reached by ``/login?next=...`` (quoted keeping ``keep``, so
    an attacker's own escapes pass as typed); the ``Location`` answered."""
    client = Client(console.url)
    form = client.get("/login?next=" + urllib.parse.quote(next_query, safe=keep))
    assert form.status == 200
    token = form.text.split('name="login_token" value="')[1].split('"')[0]
    hidden = html.unescape(form.text.split('name="next" value="')[1].split('"')[0])
    posted = hidden if next_posted is None else next_posted
    done = client.post(
        "/login",
        form={
            "login_token": token,
            "name": "alice",
            "password": PASSWORDS["alice"],
            "next": posted,
        },
    )
    assert done.status == 303, done.text
    return done.headers["Location"]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_a_hostile_next_lands_on_the_console(console: ConsoleThread, target: str) -> None:
    base = urllib.parse.urlsplit(console.url)
    # Once as the login link carries it (through the form's hidden field), once posted as is.
    for posted in (None, target):
        location = _form_login(console, target, posted)
        went = _browser_target(console.url, location)
        assert (went.scheme, went.netloc) == (base.scheme, base.netloc), (target, location)
        assert location == "/", (target, location)


@pytest.mark.parametrize("target", LOCAL_NEXT)
def test_a_local_next_is_kept(console: ConsoleThread, target: str) -> None:
    # Quoted as the console quotes the page it sends to the login.
    assert _form_login(console, target, None, keep="") == target


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_safe_next_refuses(target: str) -> None:
    assert safe_next(target) == "/"


def test_safe_next_keeps_local_paths() -> None:
    for target in [*LOCAL_NEXT, "/page/abc%2Fdef", "/entity/email/a%40b.example"]:
        assert safe_next(target) == target


def test_parallel_bad_logins_check_at_most_the_allowance(console: ConsoleThread) -> None:
    users = UserStore.for_data_dir(console.settings.data_dir, console.settings.console)
    users.add("parallel-user", "analyst", "parallel-password-1")
    users.close()
    allowance = console.settings.console.login_attempts
    parallel = 30
    start = threading.Barrier(parallel)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        client = Client(console.url)
        start.wait(timeout=30)
        status = client.post(
            "/api/login", data={"name": "parallel-user", "password": "wrong-password"}
        ).status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == parallel
    # 401: the password was checked (and was wrong); 429: refused before any check.
    assert statuses.count(401) <= allowance, statuses
    assert statuses.count(401) + statuses.count(429) == parallel, statuses
    right = Client(console.url).post(
        "/api/login", data={"name": "parallel-user", "password": "parallel-password-1"}
    )
    assert right.status == 429
    # Another spelling of the same name is the same account, with the same lock-out.
    other = Client(console.url).post(
        "/api/login", data={"name": "PARALLEL-User", "password": "parallel-password-1"}
    )
    assert other.status == 429
