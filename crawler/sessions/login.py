"""Form login before a crawl: post the configured credentials, keep the cookies the site sets.

The login request goes through the whole downloader (Tor, the onion's jar in
:class:`crawler.middlewares.sessions.SessionCookiesMiddleware`), so the site's session
cookie lands in the jar the crawl then uses. Success: the answer is not a login wall (and
shows ``success_text`` when one is set). Each login is audited (who supplied the account,
which onion, never the password); the password appears in no log line. Reads the
``[[crawler.logins]]`` entry it is given.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import FormRequest
from scrapy.http import Response

from config import Settings
from config.sections.crawler import LoginSettings
from crawler.access.classify import LOGIN, classify
from crawler.sessions.audit import record

log = logging.getLogger(__name__)


async def form_login(crawler: Any, settings: Settings, login: LoginSettings) -> bool:
    """Log in; True when the site let us in."""
    formdata = {**login.fields, login.username_field: login.username,
                login.password_field: login.password.get_secret_value()}
    request = FormRequest(login.login_url, formdata=formdata, dont_filter=True,
                          meta={"handle_httpstatus_all": True})
    try:
        response: Response = await crawler.engine.download_async(request)
    except Exception as exc:
        log.warning("form login to %s failed: %s", login.onion, type(exc).__name__)
        ok = False
        why = type(exc).__name__
    else:
        access = classify(response.status, response.headers, response.body, response.url)
        text = response.text if hasattr(response, "text") else ""
        ok = access.state != LOGIN and (not login.success_text or login.success_text in text)
        why = access.why
    log.info("form login to %s as %s: %s", login.onion, login.username,
             "logged in" if ok else f"refused ({why})")
    record(settings, "session_use", user=login.analyst, onion=login.onion,
           source="form-login", account=login.username, ok=ok)
    if crawler.stats is not None:
        crawler.stats.inc_value("heroes/sessions/form_login_" + ("ok" if ok else "failed"))
    return ok
