"""JSON log lines: one object per line with the fields, the role of the task, secrets masked."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
from pydantic import SecretStr

from heroes.roles import run_roles
from telemetry.logs import JsonFormatter, TextFormatter, formatter

log = logging.getLogger("tests.telemetry.roles")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("heroes-test"))
    logger = logging.getLogger("tests.telemetry")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_the_fields(captured: io.StringIO) -> None:
    log.warning("document %s/%s set aside: %s", "page", "ab12", "bad status\nsecond line",
                extra={"kind": "page", "count": 3, "password": SecretStr("hunter2")})
    try:
        raise ValueError("broken value")
    except ValueError:
        log.exception("drain failed for %s", "http://user:hunter2@es.internal:9200/")
    first, second = lines(captured)
    assert first["level"] == "WARNING"
    assert first["logger"] == "tests.telemetry.roles"
    assert first["event"] == "document %s/%s set aside: %s"
    assert first["message"] == "document page/ab12 set aside: bad status\nsecond line"
    assert first["role"] == "heroes-test"
    assert (first["kind"], first["count"]) == ("page", 3)
    assert first["password"] == "**********"
    moment = datetime.fromisoformat(str(first["time"]))
    assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
    assert second["level"] == "ERROR"
    assert "ValueError: broken value" in str(second["exception"])
    assert "hunter2" not in captured.getvalue()
    assert second["message"] == "drain failed for http://user:****@es.internal:9200/"


class _Talker:
    def __init__(self, name: str):
        self.name = name

    async def __aenter__(self) -> _Talker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run(self, stop: asyncio.Event) -> None:
        log.info("working")

        async def child() -> None:
            log.info("child working")

        await asyncio.create_task(child())
        await asyncio.to_thread(log.info, "thread working")


async def test_the_role_is_the_one_whose_task_logged(captured: io.StringIO) -> None:
    await run_roles([_Talker("drain"), _Talker("sender")], until=[], signals=False)
    log.info("after the roles")
    found = {(entry["role"], entry["message"]) for entry in lines(captured)}
    for role in ("drain", "sender"):
        assert {(role, "working"), (role, "child working"), (role, "thread working")} <= found
    assert ("heroes-test", "after the roles") in found


def test_text_lines_mask_url_credentials_too() -> None:
    record = logging.LogRecord("index", logging.WARNING, __file__, 1,
                               "cannot reach %s", ("https://elastic:hunter2@127.0.0.1:9200",),
                               None)
    text = TextFormatter().format(record)
    assert "hunter2" not in text
    assert "WARNING index: cannot reach https://elastic:****@127.0.0.1:9200" in text


def test_an_unknown_format_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'xml'"):
        formatter("xml")
