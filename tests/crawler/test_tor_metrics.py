"""The built-circuits count: only circuits in state BUILT count, per client of the pool, and
a client whose controller fails is left out."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import stem

from config.sections.tor import TorSettings
from crawler.tor.client import TorPool, count_built
from crawler.tor.metrics import circuit_samples


class FakeController:
    def __init__(self, *statuses: str, fails: bool = False):
        self.statuses = statuses
        self.fails = fails

    def get_circuits(self) -> list[Any]:
        if self.fails:
            raise stem.SocketClosed("control connection closed")
        return [SimpleNamespace(status=s) for s in self.statuses]


def test_only_built_circuits_count_and_a_failing_client_is_left_out(tmp_path: Any) -> None:
    assert count_built(FakeController("BUILT", "LAUNCHED", "BUILT", "FAILED")) == 2  # type: ignore[arg-type]
    pool = TorPool(TorSettings(mode="attach", control_ports=[1, 2, 3]), tmp_path)
    pool._controllers = [FakeController("BUILT"), FakeController(fails=True),  # type: ignore[list-item]
                         FakeController("EXTENDED", "BUILT", "BUILT")]
    assert circuit_samples([], pool) == {("0",): 1.0, ("2",): 2.0}
