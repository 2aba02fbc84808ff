"""The frontier store contract, run against SQLite and a real redis-server: queues, round
robin, leases and their expiry, ack/nack, dedup across clients, traps, counts."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from config.sections.frontier import FrontierSettings
from crawler.frontier.redis_store import RedisFrontierStore
from crawler.frontier.sqlite_store import SqliteFrontierStore
from crawler.frontier.store import FrontierStore, NewUrl, Outcome
from tests.conftest import start_lab_redis
from tests.crawler.observe import poll

HOST_A = "a" * 56 + ".onion"
HOST_B = "b" * 56 + ".onion"
HOST_C = "c" * 56 + ".onion"
HOST_D = "d" * 56 + ".onion"
HOST_E = "e" * 56 + ".onion"

Factory = Callable[..., FrontierStore]


def url(host: str, path: str) -> str:
    return f"http://{host}/{path}"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # One server for the module: every store test works on a frontier of its own name.
    server = start_lab_redis(tmp_path_factory.mktemp("redis-lab"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Clients of one fresh frontier: every call opens another connection to it."""
    opened: list[FrontierStore] = []
    name = uuid.uuid4().hex[:8]

    def make(host_cap: int = 1000, host_concurrency: int = 100, **options: Any) -> FrontierStore:
        settings = FrontierSettings(**options)
        store: FrontierStore
        if request.param == "sqlite":
            store = SqliteFrontierStore(tmp_path / "frontier.sqlite", settings,
                                        host_cap=host_cap, host_concurrency=host_concurrency)
        else:
            store = RedisFrontierStore(request.getfixturevalue("redis_url"), name, settings,
                                       host_cap=host_cap, host_concurrency=host_concurrency)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def test_push_dedups_on_the_canonical_url(make_store: Factory) -> None:
    store = make_store()
    first = store.push([NewUrl(f"HTTP://{HOST_A.upper()}:80/p?b=2&a=1&PHPSESSID=x#top")])
    again = store.push([NewUrl(url(HOST_A, "p?a=1&b=2")), NewUrl(url(HOST_A, "q")),
                        NewUrl("ftp://x/"), NewUrl(url(HOST_A, "x/x/x/x/x"))])
    assert first == [Outcome.ADDED]
    assert again == [Outcome.DUPLICATE, Outcome.ADDED, Outcome.BAD, Outcome.TRAP]
    assert store.is_known(url(HOST_A, "p?b=2&a=1")) and not store.is_known(url(HOST_A, "r"))


def test_dedup_holds_across_two_clients(make_store: Factory) -> None:
    one, two = make_store(), make_store()
    urls = [NewUrl(url(HOST_A, f"p{i}")) for i in range(50)]
    assert set(one.push(urls)) == {Outcome.ADDED}
    assert set(two.push(urls)) == {Outcome.DUPLICATE}
    assert two.counts().queued == 50


def test_hosts_are_served_round_robin_so_a_big_host_cannot_take_every_slot(
    make_store: Factory,
) -> None:
    store = make_store(host_concurrency=3)
    store.push([NewUrl(url(HOST_A, f"p{i}")) for i in range(100)])
    store.push([NewUrl(url(HOST_B, "p1")), NewUrl(url(HOST_B, "p2")), NewUrl(url(HOST_C, "p"))])
    first = store.lease("w1", 3)
    assert sorted(e.host for e in first) == sorted([HOST_A, HOST_B, HOST_C])
    more = store.lease("w1", 10)
    # HOST_A may hold 3 leases at once; B has one URL left, C none.
    assert Counter(e.host for e in first + more) == {HOST_A: 3, HOST_B: 2, HOST_C: 1}
    assert store.lease("w1", 10) == []
    assert store.host(HOST_A).leased == 3 and store.host(HOST_A).queued == 97


def test_priority_then_arrival_within_a_host(make_store: Factory) -> None:
    store = make_store()
    store.push([NewUrl(url(HOST_A, "deep"), depth=2, priority=-2),
                NewUrl(url(HOST_A, "first"), priority=0), NewUrl(url(HOST_A, "second"))])
    got = [store.lease("w", 1)[0] for _ in range(3)]
    assert [g.url.rsplit("/", 1)[1] for g in got] == ["first", "second", "deep"]
    assert got[2].depth == 2 and got[2].priority == -2


def test_the_best_class_goes_first_across_hosts_and_hosts_take_turns_within_it(
    make_store: Factory,
) -> None:
    store = make_store(host_concurrency=2)
    # Stale re-visits queued first, then changed pages, then new URLs last.
    store.push([NewUrl(url(HOST_A, f"stale{i}"), priority=-10) for i in range(3)])
    store.push([NewUrl(url(HOST_B, f"stale{i}"), priority=-10) for i in range(3)])
    store.push([NewUrl(url(HOST_C, f"changed{i}"), priority=-5) for i in range(2)])
    store.push([NewUrl(url(HOST_D, f"new{i}")) for i in range(3)] + [NewUrl(url(HOST_E, "new0"))])
    got = store.lease("w", 20)
    assert [e.url for e in got] == [
        url(HOST_D, "new0"), url(HOST_E, "new0"), url(HOST_D, "new1"),  # D then at its cap
        url(HOST_C, "changed0"), url(HOST_C, "changed1"),
        url(HOST_A, "stale0"), url(HOST_B, "stale0"), url(HOST_A, "stale1"), url(HOST_B, "stale1")]
    # D below its cap again: its last new URL goes before the stale ones left on A and B.
    store.ack("w", [got[0].key, got[5].key, got[6].key])
    assert [e.url for e in store.lease("w", 1)] == [url(HOST_D, "new2")]
    # A new URL that comes due later ranks its host first from then on.
    store.push([NewUrl(url(HOST_E, "later"), delay_s=0.3)])
    poll(lambda: store.counts().due == 3, "the delayed URL due", 10.0)
    assert [e.url for e in store.lease("w", 3)] == [
        url(HOST_E, "later"), url(HOST_A, "stale2"), url(HOST_B, "stale2")]


def test_a_host_stays_with_its_crawler_while_it_holds_leases_and_a_while_after(
    make_store: Factory,
) -> None:
    one, two = make_store(host_affinity_s=2), make_store(host_affinity_s=2)
    one.push([NewUrl(url(HOST_A, f"p{i}")) for i in range(4)] + [NewUrl(url(HOST_B, "p0"))])
    (first,) = one.lease("w1", 1)
    assert first.host == HOST_A
    # HOST_A is with w1 now: w2 gets only HOST_B, w1 the rest of HOST_A.
    assert [e.host for e in two.lease("w2", 5)] == [HOST_B]
    assert [e.host for e in one.lease("w1", 1)] == [HOST_A]
    assert one.ack("w1", [first.key]) == 1 and two.lease("w2", 5) == []
    # Released leases end the affinity at once; otherwise it ends after host_affinity_s.
    assert one.release("w1") == 1
    (taken,) = two.lease("w2", 1)
    assert taken.host == HOST_A
    assert two.ack("w2", [taken.key]) == 1
    assert one.lease("w1", 5) == []
    poll(lambda: one.lease("w1", 5), "the affinity over", 10.0)
    # A crawler whose leases ran out loses its hosts with them.
    crashed, alive = make_store(host_affinity_s=60, lease_s=0.2), make_store(host_affinity_s=60)
    crashed.push([NewUrl(url(HOST_C, f"p{i}")) for i in range(2)])
    assert [e.host for e in crashed.lease("dead", 1)] == [HOST_C]
    got = poll(lambda: alive.lease("alive", 5), "the dead crawler's host free", 10.0)
    assert {e.host for e in got} == {HOST_C} and len(got) == 2
    # One that died between two fetches of a host (no lease held, the affinity still
    # running) frees it once it has not leased or renewed for a lease's time, not 60 s.
    crashed.push([NewUrl(url(HOST_D, f"p{i}")) for i in range(2)])
    (taken,) = crashed.lease("dead-between", 1)
    assert taken.host == HOST_D and crashed.ack("dead-between", [taken.key]) == 1
    assert alive.lease("alive", 5) == []  # alive a moment ago: the host is still its own
    got = poll(lambda: alive.lease("alive", 5), "the host of a crawler that died between "
               "two fetches free", 10.0)
    assert [e.host for e in got] == [HOST_D]


def test_a_url_is_leased_to_one_worker_at_a_time(make_store: Factory) -> None:
    stores = [make_store() for _ in range(4)]
    stores[0].push([NewUrl(url(h, f"p{i}")) for h in (HOST_A, HOST_B, HOST_C)
                    for i in range(40)])
    got: list[list[str]] = [[] for _ in stores]

    def worker(i: int) -> None:
        while batch := stores[i].lease(f"w{i}", 5):
            got[i].extend(e.key for e in batch)
            stores[i].ack(f"w{i}", [e.key for e in batch])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    keys = [k for g in got for k in g]
    assert len(keys) == 120 and len(set(keys)) == 120
    assert stores[0].counts().done == 120


def test_expired_leases_return_to_the_queue(make_store: Factory) -> None:
    store = make_store(lease_s=0.3)
    store.push([NewUrl(url(HOST_A, f"p{i}")) for i in range(5)])
    dead = store.lease("dead", 5)
    assert len(dead) == 5 and store.lease("alive", 5) == []
    assert store.holders() == ["dead"]
    back = poll(lambda: store.lease("alive", 5), "the dead worker's leases return", 10.0)
    assert {e.key for e in back} == {e.key for e in dead}
    assert store.holders() == ["alive"]


def test_renew_keeps_a_lease_and_release_returns_it(make_store: Factory) -> None:
    store = make_store(lease_s=0.5)
    store.push([NewUrl(url(HOST_A, "p"))])
    held = store.lease("w1", 1)
    deadline = time.monotonic() + 1.2
    while time.monotonic() < deadline:  # renewed for longer than one lease
        assert store.renew("w1", [held[0].key]) == 1
        assert store.lease("w2", 1) == []
        time.sleep(0.1)
    assert store.renew("w2", [held[0].key]) == 0
    assert store.release("w2") == 0 and store.release("w1") == 1
    assert [e.key for e in store.lease("w2", 1)] == [held[0].key]


def test_ack_is_final_unless_a_refetch_is_asked(make_store: Factory) -> None:
    store = make_store()
    store.push([NewUrl(url(HOST_A, "p1")), NewUrl(url(HOST_A, "p2"))])
    one, two = store.lease("w", 2)
    assert store.ack("w", [one.key]) == 1 and store.ack("w", [one.key]) == 0
    assert store.ack("w", [two.key], refetch_after_s=3600) == 1
    assert store.lease("w", 5) == []
    counts = store.counts()
    assert (counts.done, counts.queued, counts.due, counts.leased) == (1, 1, 0, 0)
    assert store.push([NewUrl(url(HOST_A, "p1"))]) == [Outcome.DUPLICATE]
    assert store.ack("w", [two.key], refetch_after_s=0) == 1
    assert [e.key for e in store.lease("w", 5)] == [two.key]


def test_a_refetch_with_a_lower_priority_queues_behind_new_urls(make_store: Factory) -> None:
    store = make_store()
    store.push([NewUrl(url(HOST_A, "old"))])
    (old,) = store.lease("w", 1)
    assert store.ack("w", [old.key], refetch_after_s=0, priority=-10) == 1
    store.push([NewUrl(url(HOST_A, "new"))])
    first, second = store.lease("w", 1), store.lease("w", 1)
    assert [(e.url, e.priority) for e in first + second] == [
        (url(HOST_A, "new"), 0), (url(HOST_A, "old"), -10)]
    # The lower priority stays with the URL: refetched again without one, it keeps it.
    assert store.ack("w", [second[0].key], refetch_after_s=0) == 1
    assert [e.priority for e in store.lease("w", 1)] == [-10]


def test_nack_backs_off_capped_and_gives_up(make_store: Factory) -> None:
    store = make_store(retry_base_s=0.05, retry_max_s=0.1, max_attempts=3)
    assert store.backoff_s(1) == 0.05 and store.backoff_s(5) == 0.1
    store.push([NewUrl(url(HOST_A, "p"))])
    entry = store.lease("w", 1)[0]
    assert store.nack("other", entry.key) is False
    assert store.nack("w", entry.key) is True
    assert store.lease("w", 1) == []  # backing off
    again = poll(lambda: store.lease("w", 1), "the retry comes due", 10.0)
    assert again[0].attempts == 1
    assert store.nack("w", entry.key, delay_s=0) is True
    assert store.lease("w", 1)[0].attempts == 2
    assert store.nack("w", entry.key) is True
    counts = store.counts()
    assert (counts.failed, counts.queued, counts.leased) == (1, 0, 0)
    assert store.host(HOST_A).failed == 1


def test_host_page_cap_counts_every_url_ever_admitted(make_store: Factory) -> None:
    store = make_store(host_cap=3)
    out = store.push([NewUrl(url(HOST_A, f"p{i}")) for i in range(5)])
    assert out == [Outcome.ADDED] * 3 + [Outcome.HOST_CAP] * 2
    store.ack("w", [e.key for e in store.lease("w", 3)])
    assert store.push([NewUrl(url(HOST_A, "later"))]) == [Outcome.HOST_CAP]
    assert store.push([NewUrl(url(HOST_B, "p"))]) == [Outcome.ADDED]
    assert store.host(HOST_A).admitted == 3


def test_push_leased_to_its_caller(make_store: Factory) -> None:
    store = make_store()
    assert store.push([NewUrl(url(HOST_A, "r"))], lease_to="w1") == [Outcome.ADDED]
    assert store.lease("w2", 5) == [] and store.holders() == ["w1"]
    assert store.pending() == 1 and store.pending(exclude="w1") == 0
    assert store.has_work() and not store.has_work(exclude="w1")


def test_delayed_urls_wait_and_counts_for_a_status_view(make_store: Factory) -> None:
    store = make_store()
    store.push([NewUrl(url(HOST_A, f"p{i}")) for i in range(4)])
    store.push([NewUrl(url(HOST_B, "p")), NewUrl(url(HOST_C, "later"), delay_s=3600)])
    store.lease("w", 1)
    counts = store.counts(top=2)
    assert (counts.queued, counts.due, counts.leased, counts.done) == (5, 4, 1, 0)
    assert counts.total == 6
    assert counts.top_hosts == [(HOST_A, 3), (HOST_B, 1)]
    assert counts.oldest_due_s is not None and counts.oldest_due_s >= 0
    assert store.pending() == 5


def test_a_deferred_host_is_skipped_by_every_worker_until_its_time(make_store: Factory) -> None:
    store, other = make_store(), make_store()
    store.push([NewUrl(url(HOST_A, f"p{i}")) for i in range(3)] + [NewUrl(url(HOST_B, "p"))])
    store.defer_host(HOST_A, 3600)
    other.defer_host(HOST_A, 0.3)  # shorter: changes nothing
    assert 3000 < store.host(HOST_A).deferred_s <= 3600
    assert [e.host for e in other.lease("w", 10)] == [HOST_B]
    store.defer_host(HOST_C, 1)  # a host with nothing queued yet
    store.push([NewUrl(url(HOST_C, "p"))])
    assert other.lease("w", 10) == []
    back = poll(lambda: other.lease("w", 10), "host C comes back after its deferral", 10.0)
    assert [e.host for e in back] == [HOST_C] and store.host(HOST_C).deferred_s == 0


def test_the_uptime_only_hosts_are_shared_by_every_client_and_replaced_whole(
    make_store: Factory,
) -> None:
    scan, crawler = make_store(), make_store()
    assert crawler.uptime_only_version() == 0 and crawler.uptime_only_hosts() == frozenset()
    scan.set_uptime_only([HOST_A, HOST_B, HOST_A])
    first = crawler.uptime_only_version()
    assert first != 0 and crawler.uptime_only_hosts() == {HOST_A, HOST_B}
    scan.set_uptime_only([HOST_C])
    assert crawler.uptime_only_version() != first
    assert crawler.uptime_only_hosts() == {HOST_C}
    scan.set_uptime_only([])
    assert crawler.uptime_only_hosts() == frozenset()
