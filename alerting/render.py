"""Alert email bodies: a plain-text and an HTML part with what matched, where and when.

Bodies carry hashes, list entries, addresses, URLs, times, the confidence level of peer
observations and a link to the console (setting ``alerts.console_url``); never page
content and never images. The facts are printed as the rule wrote them: a matched value
is already in its identifier type's display form there (EIP-55 for an Ethereum address,
see ``alerting.rules.facts``), the spelling an analyst pastes into a search; a video that
matched a vPDQ entry is named with the share of frames matched and the matched time ranges
(:func:`video_match_text`). A webhook gets the same facts as one JSON object
(:func:`render_webhook`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerting.record import AlertRecord
    from documents import Match

FOOTER = (
    "This message names flagged values and where they were seen; it carries no content. "
    "Open the console link to review the documents."
)


def clock(seconds: float) -> str:
    """A time in a video as ``m:ss`` (``h:mm:ss`` past an hour), whole seconds."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def video_match_text(match: Match) -> str:
    """How much of a video matched a vPDQ entry and where: "" for other matches."""
    if match.query_fraction is None and not match.time_ranges:
        return ""
    parts = []
    if match.query_fraction is not None:
        share = f"{match.query_fraction:.0%} of the video's frames"
        if match.entry_fraction is not None:
            share += f" ({match.entry_fraction:.0%} of the entry's)"
        parts.append(share)
    if match.time_ranges:
        spans = ", ".join(f"{clock(a)}-{clock(b)}" for a, b in match.time_ranges)
        parts.append(f"at {spans}")
    return " ".join(parts)


def alert_link(console_url: str, alert_id: str) -> str:
    return f"{console_url.rstrip('/')}/alerts/{alert_id}"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _lines(record: AlertRecord, console_url: str) -> list[tuple[str, str]]:
    out = [
        ("Rule", f"{record.rule} ({record.rule_type})"),
        ("Severity", record.severity),
        ("Alert", record.id),
        ("Raised", _when(record.created_at)),
        (
            "Seen",
            f"{_when(record.first_seen)} .. {_when(record.last_seen)}"
            f" ({record.count} document{'s' if record.count != 1 else ''})",
        ),
    ]
    out += [(label, value) for label, value in record.facts]
    out.append(("Console", alert_link(console_url, record.id)))
    return out


def _text_block(pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in pairs)


def _html_block(pairs: Sequence[tuple[str, str]], console: str) -> str:
    rows = []
    for label, value in pairs:
        cell = (
            f'<a href="{html.escape(console)}">{html.escape(value)}</a>'
            if label == "Console"
            else html.escape(value)
        )
        rows.append(
            f'<tr><th align="left">{html.escape(label)}</th><td><code>{cell}</code></td></tr>'
        )
    return "<table>" + "".join(rows) + "</table>"


def render_alert(record: AlertRecord, console_url: str) -> tuple[str, str, str]:
    """(subject, text, html) of the email of one alert."""
    subject = f"[heroes {record.severity}] {record.rule}: {record.summary}"[:200]
    pairs = _lines(record, console_url)
    text = f"{record.summary}\n\n{_text_block(pairs)}\n\n{FOOTER}\n"
    body = (
        f"<html><body><p><b>{html.escape(record.summary)}</b></p>"
        f"{_html_block(pairs, alert_link(console_url, record.id))}"
        f"<p><small>{html.escape(FOOTER)}</small></p></body></html>"
    )
    return subject, text, body


def render_digest(
    rule: str, records: Sequence[AlertRecord], console_url: str
) -> tuple[str, str, str]:
    """(subject, text, html) of one digest listing several alerts of a rule."""
    severity = records[0].severity
    plural = "s" if len(records) != 1 else ""
    subject = f"[heroes {severity}] {rule}: digest of {len(records)} alert{plural}"
    text_parts = [f"{len(records)} alerts of rule {rule}.\n"]
    html_parts = [f"<html><body><p><b>{len(records)} alerts of rule {html.escape(rule)}.</b></p>"]
    for n, record in enumerate(records, start=1):
        pairs = _lines(record, console_url)
        text_parts.append(f"{n}. {record.summary}\n{_text_block(pairs)}\n")
        html_parts.append(
            f"<h3>{n}. {html.escape(record.summary)}</h3>"
            f"{_html_block(pairs, alert_link(console_url, record.id))}"
        )
    text_parts.append(FOOTER + "\n")
    html_parts.append(f"<p><small>{html.escape(FOOTER)}</small></p></body></html>")
    return subject, "\n".join(text_parts), "".join(html_parts)


def render_webhook(record: AlertRecord, console_url: str) -> str:
    """The JSON body a webhook endpoint receives for one alert (keys sorted: stable bytes)."""
    body = {
        "type": "alert",
        "id": record.id,
        "rule": record.rule,
        "rule_type": record.rule_type,
        "key": record.key,
        "severity": record.severity,
        "summary": record.summary,
        "window_start": _when(record.window_start),
        "first_seen": _when(record.first_seen),
        "last_seen": _when(record.last_seen),
        "facts": [list(pair) for pair in record.facts],
        "matched": record.matched,
        "url": alert_link(console_url, record.id),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))
