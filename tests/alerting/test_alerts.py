"""Alert rules and the alert state: pure verdicts, exactly-once under replay, realert, digests."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from alerting.db import AlertDB
from alerting.engine import AlertEngine
from alerting.outbox import Outbox
from alerting.rules import evaluate
from alerting.state import AlertState
from config.sections.alerts import AlertRule, AlertSettings
from documents import Document, Match, Observation, Page
from errors import QueryError

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
IH = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
HIT = Match(list="lab", type="infohash", value=IH, field="infohash", category="swarm", entry="e2")


def obs(
    ip: str = "127.0.0.5", port: int = 6881, at: datetime = T0, matches: tuple = (HIT,)
) -> Observation:
    o = Observation(infohash=IH, ip=ip, port=port, first_seen=at, last_seen=at, level=1)
    return o.with_matches(list(matches)) if matches else o


def page(
    host: str = "marketabc.onion",
    text: str = "",
    at: datetime = T0,
    path: str = "/",
    matches: tuple = (),
) -> Page:
    p = Page(url=f"http://{host}{path}", fetched_at=at, title="Lamp shop", text=text)
    return p.with_matches(list(matches)) if matches else p


def test_hit_rule_filters_by_list_and_category() -> None:
    assert evaluate(AlertRule(name="a", type="hit"), obs()) is not None
    assert evaluate(AlertRule(name="b", type="hit", lists=["other"]), obs()) is None
    assert evaluate(AlertRule(name="c", type="hit", categories=["swarm"]), obs()) is not None
    assert evaluate(AlertRule(name="d", type="hit"), obs(matches=())) is None
    assert evaluate(AlertRule(name="e", type="hit", kinds=["page"]), obs()) is None


def test_hit_firing_names_what_where_and_level_never_content() -> None:
    firing = evaluate(AlertRule(name="a", type="hit"), obs())
    assert firing.key == f"{IH} 127.0.0.5"
    facts = dict(firing.facts)
    assert facts["Peer"] == "127.0.0.5:6881" and facts["Level"].startswith("L1")
    assert "list lab" in facts["Matched"] and "entry e2" in facts["Matched"]
    pfiring = evaluate(
        AlertRule(name="p", type="hit"),
        page(text="secret words", matches=(HIT.model_copy(update={"field": "x"}),)),
    )
    assert "secret" not in repr(pfiring) and "Lamp" not in repr(pfiring)


EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_matched_fact_names_the_value_in_its_display_form() -> None:
    wallet = Match(list="wallets", type="eth", value=EIP55.lower(), field="entities.eth")
    firing = evaluate(AlertRule(name="w", type="hit"), page(matches=(wallet,)))
    assert dict(firing.facts)["Matched"] == f"eth {EIP55} in entities.eth: list wallets"
    # A value its type cannot parse is shown as stored, not dropped.
    odd = wallet.model_copy(update={"value": "0xnot-an-address"})
    firing = evaluate(AlertRule(name="w", type="hit"), page(matches=(odd,)))
    assert dict(firing.facts)["Matched"].startswith("eth 0xnot-an-address in ")


def test_the_email_prints_the_facts_as_the_rule_wrote_them() -> None:
    from alerting.record import AlertRecord
    from alerting.render import render_alert

    facts = [["Matched", f"eth {EIP55.lower()} in entities.eth: list wallets"], ["Host", "h"]]
    record = AlertRecord(
        id="a1", rule="w", rule_type="hit", key="k", severity="high", window_start=0.0,
        created_at=0.0, first_seen=0.0, last_seen=0.0, count=1, status="new",
        summary="flagged wallet", facts=facts, matched=[], deliveries=[],
        acknowledged_by="", acknowledged_at=None, comment="", rev=1,
    )
    _, text, body = render_alert(record, "http://127.0.0.1:8080")
    [line] = [x for x in text.splitlines() if x.startswith("Matched:")]
    assert line.split(None, 1)[1] == f"eth {EIP55.lower()} in entities.eth: list wallets"
    assert EIP55 not in text and EIP55 not in body


def test_keyword_rule_uses_the_query_string() -> None:
    rule = AlertRule(name="k", type="keyword", kinds=["page"], query='"blue lamp" escrow')
    assert evaluate(rule, page(text="a Blue lamp, escrow accepted")) is not None
    assert evaluate(rule, page(text="a blue table, escrow accepted")) is None


def test_bad_rule_query_stops_start_up_naming_the_rule(tmp_path: Path) -> None:
    rule = AlertRule(name="broken", type="keyword", query="title:(unclosed")
    with pytest.raises(QueryError, match="'broken'"):
        AlertEngine(AlertSettings(rules=[rule]), tmp_path / "a.sqlite", lambda d: 0)


def test_rule_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="needs a field"):
        AlertRule(name="n", type="new_term")
    with pytest.raises(ValidationError, match="used twice"):
        AlertSettings(rules=[AlertRule(name="x", type="hit"), AlertRule(name="x", type="hit")])


class Harness:
    def __init__(self, tmp_path: Path, *rules: AlertRule):
        self.rules = {r.name: r for r in rules}
        self.db = AlertDB(tmp_path / "alerts.sqlite")
        self.state = AlertState(self.db, console_url="http://console.localhost")
        self.outbox = Outbox(self.db, console_url="http://console.localhost")

    def feed(self, *docs: Document, now: float | None = None) -> list[str]:
        firings = [f for d in docs for r in self.rules.values() if (f := evaluate(r, d))]
        return self.state.apply(firings, self.rules, now or time.time())

    def messages(self) -> list:
        return self.outbox.messages()


def test_replay_changes_nothing(tmp_path: Path) -> None:
    h = Harness(
        tmp_path,
        AlertRule(name="hits", type="hit", recipients=["a@lab.localhost", "b@lab.localhost"]),
    )
    first = h.feed(obs())
    assert len(first) == 1 and len(h.messages()) == 2
    assert h.feed(obs()) == []
    assert len(h.messages()) == 2 and h.state.get(first[0]).count == 1


def test_realert_window_joins_the_same_key(tmp_path: Path) -> None:
    h = Harness(
        tmp_path, AlertRule(name="hits", type="hit", recipients=["a@lab.localhost"], realert_s=600)
    )
    [a] = h.feed(obs(port=1000))
    [b] = h.feed(obs(port=2000, at=T0 + timedelta(seconds=300)))
    assert a == b and len(h.messages()) == 1
    record = h.state.get(a)
    assert record.count == 2 and record.last_seen - record.first_seen == 300
    [c] = h.feed(obs(port=3000, at=T0 + timedelta(seconds=900)))
    assert c != a and len(h.messages()) == 2
    [d] = h.feed(obs(ip="127.0.0.6"))
    assert d not in (a, c) and len(h.messages()) == 3


def test_frequency_needs_threshold_within_window(tmp_path: Path) -> None:
    rule = AlertRule(
        name="busy",
        type="frequency",
        kinds=["page"],
        query="lamp",
        threshold=3,
        window_s=60,
        recipients=["a@lab.localhost"],
    )
    h = Harness(tmp_path, rule)
    assert h.feed(page(text="lamp", path="/1")) == []
    assert h.feed(page(text="lamp", path="/2", at=T0 + timedelta(seconds=100))) == []
    assert h.feed(page(text="lamp", path="/3", at=T0 + timedelta(seconds=110))) == []
    assert len(h.feed(page(text="lamp", path="/4", at=T0 + timedelta(seconds=120)))) == 1


def test_new_term_alerts_once_per_new_value(tmp_path: Path) -> None:
    wallet = Match(
        list="wallets", type="btc", value="1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", field="entities.btc"
    )
    rule = AlertRule(
        name="wallet-new-host",
        type="new_term",
        field="host",
        lists=["wallets"],
        recipients=["a@lab.localhost"],
    )
    h = Harness(tmp_path, rule)
    assert len(h.feed(page(host="shopone.onion", matches=(wallet,)))) == 1
    assert h.feed(page(host="shopone.onion", path="/again", matches=(wallet,))) == []
    assert h.feed(page(host="plain.onion")) == []  # not flagged: not counted
    assert len(h.feed(page(host="shoptwo.onion", matches=(wallet,)))) == 1
    assert [m.subject.split(": ", 1)[1][:21] for m in h.messages()] == [
        "new host shopone.onio",
        "new host shoptwo.onio",
    ]


def test_digest_collects_a_window_into_one_message(tmp_path: Path) -> None:
    rule = AlertRule(
        name="digest", type="hit", recipients=["a@lab.localhost"], digest_s=60, realert_s=0
    )
    h = Harness(tmp_path, rule)
    now = 6000.0
    changed = h.feed(*[obs(ip=f"127.0.0.{i}") for i in range(2, 7)], now=now)
    assert len(changed) == 5 and h.messages() == []
    assert h.outbox.compose_digests(now + 10) == 0
    assert h.outbox.compose_digests(now + 61) == 1
    [msg] = h.messages()
    assert "digest of 5 alerts" in msg.subject and len(msg.alert_ids) == 5
    assert h.outbox.compose_digests(now + 200) == 0
    h.feed(obs(ip="127.0.0.9"), now=now + 1)  # its bucket is closed: it goes to the next one
    assert h.outbox.compose_digests(now + 121) == 1


def test_ack_and_documents_follow_the_state(tmp_path: Path) -> None:
    h = Harness(tmp_path, AlertRule(name="hits", type="hit", recipients=["a@lab.localhost"]))
    [a] = h.feed(obs())
    spooled: list[Document] = []
    h.state.spool_pending(lambda docs: spooled.extend(docs) or len(docs))
    h.state.ack(a[:8], "analyst1", "seen", time.time())
    h.state.spool_pending(lambda docs: spooled.extend(docs) or len(docs))
    assert [d.status for d in spooled][-1] == "acknowledged" and spooled[-1].id == a
    assert h.state.spool_pending(lambda docs: spooled.extend(docs) or len(docs)) == 0
    assert spooled[-1].deliveries[0].status == "queued"


def test_a_crash_while_sending_resends_with_the_same_message_id(tmp_path: Path) -> None:
    h = Harness(tmp_path, AlertRule(name="hits", type="hit", recipients=["a@lab.localhost"]))
    h.feed(obs())
    [msg] = h.outbox.due(time.time())
    h.outbox.mark_sending(msg.message_id)  # ... and the process dies before mark_sent
    [again] = Outbox(AlertDB(tmp_path / "alerts.sqlite")).due(time.time())
    assert again.message_id == msg.message_id and again.status == "sending"
    assert again.attempts == 1
    h.outbox.mark_sent(msg.message_id, "250 OK", time.time())
    assert h.outbox.due(time.time() + 3600) == []


def test_alerts_cli_list_show_ack(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from heroes.cli import main

    data = tmp_path / "data"
    data.mkdir()
    h = Harness(data, AlertRule(name="hits", type="hit", recipients=["a@lab.localhost"]))
    [alert] = h.feed(obs())
    base = ["--data-dir", str(data)]
    runner = CliRunner()
    listed = runner.invoke(main, [*base, "alerts", "list"])
    assert listed.exit_code == 0 and alert in listed.stdout and "critical" not in listed.stdout
    shown = runner.invoke(main, [*base, "alerts", "show", alert[:10]])
    assert (
        "Peer: 127.0.0.5:6881" in shown.stdout
        and "email to a@lab.localhost: queued" in shown.stdout
    )
    acked = runner.invoke(
        main, [*base, "alerts", "ack", alert, "--comment", "triaged", "--by", "ana"]
    )
    assert acked.exit_code == 0 and "acknowledged by ana" in acked.stdout
    as_json = runner.invoke(main, [*base, "alerts", "list", "--status", "acknowledged", "--json"])
    assert [a["comment"] for a in json.loads(as_json.stdout)] == ["triaged"]
    missing = runner.invoke(main, [*base, "alerts", "show", "nope"])
    assert missing.exit_code == 2 and "no alert 'nope'" in missing.stderr


def test_a_query_on_page_fields_applies_to_pages_only(tmp_path: Path) -> None:
    rule = AlertRule(name="titles", type="keyword", query="title:lamp")
    AlertEngine(AlertSettings(rules=[rule]), tmp_path / "a.sqlite", lambda d: 0).close()
    assert evaluate(rule, page()) is not None
    assert evaluate(rule, obs()) is None
