"""The frontier in Redis: for many crawler processes on many machines.

Keys under ``<frontier.key_prefix>:<name>`` (``P``): ``P:m`` hash key -> the URL's JSON
record; ``P:s`` hash key -> state (q, l, d, f); ``P:a`` hash key -> failures in a row;
``P:q:<host>`` one sorted set per host of the URLs due now (score: priority, then arrival);
``P:d`` the URLs queued for later (score: due time); ``P:t`` every queued URL by due time
(counts, oldest due); ``P:r`` the hosts that may be served (score: the priority of the
host's best due URL, then its turn, so the best class of URLs goes first across all hosts
and hosts are served round robin within it); ``P:l`` leases by deadline and ``P:w`` their
workers; ``P:nb`` hosts not served before a time; ``P:h:<host>`` per-host counts and
the crawler the host is with (``holder``, until ``held_until`` or while it holds leases); ``P:c``
totals; ``P:hosts`` every host; ``P:uo`` the uptime-only hosts and ``P:uov`` their
version. Every queue operation is one Lua script (atomic on the server) that reads the
**server** clock, so crawlers with skewed clocks agree on due times and lease expiry. The key
names are built inside the scripts: one Redis, not a Redis Cluster.

A connection failure, a timeout or a Redis still loading its append-only file raises
:class:`crawler.frontier.store.FrontierUnavailable`; a script runs in full or not at all, so
a retry is safe. Reads ``[frontier]`` through the constructor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.sections.frontier import FrontierSettings
from crawler.frontier.store import (
    Admitted,
    FrontierCounts,
    FrontierStore,
    FrontierUnavailable,
    HostState,
    Leased,
    Outcome,
)

T = TypeVar("T")

# ARGV[1] is the key prefix and ARGV[2] the per-host lease cap in every script.
_COMMON = r"""
local P = ARGV[1]
local cap = tonumber(ARGV[2])
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function hk(h) return P .. ':h:' .. h end
local function qk(h) return P .. ':q:' .. h end
local function meta(key) return cjson.decode(redis.call('HGET', P .. ':m', key)) end
local function count(host, field, by)
  redis.call('HINCRBY', hk(host), field, by)
  redis.call('HINCRBY', P .. ':c', field, by)
end
local function deferred(h)
  local not_before = redis.call('ZSCORE', P .. ':nb', h)
  return not_before and tonumber(not_before) > now_ms()
end
local RANK, QUEUE = 1e12, 1e10
local function ready_check(h)
  local leased = tonumber(redis.call('HGET', hk(h), 'leased') or '0')
  local best = redis.call('ZRANGE', qk(h), 0, 0, 'WITHSCORES')
  if leased < cap and #best > 0 and not deferred(h) then
    -- Ranked by the priority of the host's best due URL, then by its turn: the best class
    -- across all hosts first, round robin within it. A host keeps its turn while queued.
    local top = math.max(math.min(-math.floor(tonumber(best[2]) / QUEUE), 4000), -4000)
    local old = redis.call('ZSCORE', P .. ':r', h)
    local turn
    if old then turn = tonumber(old) % RANK else turn = redis.call('INCR', P .. ':turn') end
    -- Formatted here: Lua would pass the number to Redis with 14 digits only.
    redis.call('ZADD', P .. ':r', string.format('%.0f', -top * RANK + turn), h)
  else
    redis.call('ZREM', P .. ':r', h)
  end
end
local function to_queue(key, host, prio)
  redis.call('ZADD', qk(host),
             string.format('%.0f', -prio * QUEUE + redis.call('INCR', P .. ':seq')), key)
end
local function enqueue(key, host, prio, due, now)
  redis.call('HSET', P .. ':s', key, 'q')
  redis.call('ZADD', P .. ':t', due, key)
  if due <= now then to_queue(key, host, prio) else redis.call('ZADD', P .. ':d', due, key) end
  count(host, 'queued', 1)
end
local function dequeue(key, host)
  redis.call('ZREM', qk(host), key)
  redis.call('ZREM', P .. ':d', key)
  redis.call('ZREM', P .. ':t', key)
  count(host, 'queued', -1)
end
local function lease_to(key, host, worker, deadline)
  redis.call('HSET', P .. ':s', key, 'l')
  redis.call('ZADD', P .. ':l', deadline, key)
  redis.call('HSET', P .. ':w', key, worker)
  count(host, 'leased', 1)
end
local function unlease(key, host)
  redis.call('ZREM', P .. ':l', key)
  redis.call('HDEL', P .. ':w', key)
  count(host, 'leased', -1)
end
local function reap(now)
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', P .. ':l', '-inf', '(' .. now,
                                  'LIMIT', 0, 1000)) do
    local m = meta(key)
    unlease(key, m[2])
    redis.call('HDEL', hk(m[2]), 'holder', 'held_until')  -- its crawler is gone or stuck
    enqueue(key, m[2], m[4], now, now)
    ready_check(m[2])
  end
end
local function promote(now)
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', P .. ':d', '-inf', now, 'LIMIT', 0, 1000)) do
    local m = meta(key)
    redis.call('ZREM', P .. ':d', key)
    to_queue(key, m[2], m[4])
    ready_check(m[2])
  end
end
"""

# ARGV: P, cap, host_cap, lease_ms, lease_to, then (key, host, record, priority, delay_ms)*
_PUSH = _COMMON + r"""
local host_cap, lease_ms, worker = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local now, out, touched = now_ms(), {}, {}
for i = 6, #ARGV, 5 do
  local key, host = ARGV[i], ARGV[i + 1]
  if redis.call('HEXISTS', P .. ':m', key) == 1 then
    out[#out + 1] = 'duplicate'
  elseif tonumber(redis.call('HGET', hk(host), 'admitted') or '0') >= host_cap then
    out[#out + 1] = 'host_cap'
  else
    redis.call('HSET', P .. ':m', key, ARGV[i + 2])
    redis.call('SADD', P .. ':hosts', host)
    count(host, 'admitted', 1)
    if worker ~= '' then
      lease_to(key, host, worker, now + lease_ms)
    else
      enqueue(key, host, tonumber(ARGV[i + 3]), now + tonumber(ARGV[i + 4]), now)
    end
    touched[host] = true
    out[#out + 1] = 'added'
  end
end
for host in pairs(touched) do ready_check(host) end
return out
"""

# ARGV: P, cap, n, lease_ms, worker, affinity_ms
_LEASE = _COMMON + r"""
local n, lease_ms, worker, affinity = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5],
                                      tonumber(ARGV[6])
local now, out = now_ms(), {}
-- This crawler is alive for a lease's time (renewals say so too): a crawler that died
-- holding hosts without leases frees them when this runs out, not after the affinity.
redis.call('SET', P .. ':alive:' .. worker, '1', 'PX', lease_ms)
-- Held by another crawler that is alive: it holds leases of the host, or leased one a
-- moment ago.
local function held_by_other(h)
  if affinity <= 0 then return false end
  local holder, held_until, leased = unpack(redis.call('HMGET', hk(h), 'holder', 'held_until',
                                                       'leased'))
  if not holder or holder == worker then return false end
  if redis.call('EXISTS', P .. ':alive:' .. holder) == 0 then return false end
  return tonumber(leased or '0') > 0 or tonumber(held_until or '0') > now
end
reap(now)
promote(now)
for _, h in ipairs(redis.call('ZRANGEBYSCORE', P .. ':nb', '-inf', now, 'LIMIT', 0, 1000)) do
  redis.call('ZREM', P .. ':nb', h)
  ready_check(h)
end
-- One URL of the best-ranked host at a time: that host goes to the back of its class (after
-- the hosts skipped before it, which keeps ``skip`` pointing past them).
local skip = 0
while #out < n do
  local hosts = redis.call('ZRANGE', P .. ':r', skip, skip)
  if #hosts == 0 then break end
  local h = hosts[1]
  if held_by_other(h) then
    skip = skip + 1
  else
    local popped = redis.call('ZPOPMIN', qk(h))
    if #popped > 0 then
      local key = popped[1]
      redis.call('ZREM', P .. ':t', key)
      count(h, 'queued', -1)
      lease_to(key, h, worker, now + lease_ms)
      if affinity > 0 then
        redis.call('HSET', hk(h), 'holder', worker, 'held_until',
                   string.format('%.0f', now + affinity))
      end
      out[#out + 1] = {key, redis.call('HGET', P .. ':m', key),
                       redis.call('HGET', P .. ':a', key) or '0'}
    end
    redis.call('ZREM', P .. ':r', h)
    ready_check(h)
  end
end
return out
"""

# ARGV: P, cap, lease_ms, worker, keys*
_RENEW = _COMMON + r"""
local lease_ms, worker, now, held = tonumber(ARGV[3]), ARGV[4], now_ms(), 0
redis.call('SET', P .. ':alive:' .. worker, '1', 'PX', lease_ms)
for i = 5, #ARGV do
  if redis.call('HGET', P .. ':w', ARGV[i]) == worker then
    redis.call('ZADD', P .. ':l', now + lease_ms, ARGV[i])
    held = held + 1
  end
end
return held
"""

# ARGV: P, cap, refetch_ms ('' for none), priority ('' to keep it), keys*
_ACK = _COMMON + r"""
local refetch, prio, now, changed = ARGV[3], ARGV[4], now_ms(), 0
for i = 5, #ARGV do
  local key = ARGV[i]
  local state = redis.call('HGET', P .. ':s', key)
  if state and not (refetch == '' and state == 'd') then
    local m = meta(key)
    local host = m[2]
    if state == 'l' then unlease(key, host)
    elseif state == 'q' then dequeue(key, host)
    elseif state == 'd' then count(host, 'done', -1)
    else count(host, 'failed', -1) end
    redis.call('HDEL', P .. ':a', key)
    if refetch == '' then
      redis.call('HSET', P .. ':s', key, 'd')
      count(host, 'done', 1)
    else
      if prio ~= '' then
        m[4] = tonumber(prio)
        redis.call('HSET', P .. ':m', key, cjson.encode(m))
      end
      enqueue(key, host, m[4], now + tonumber(refetch), now)
    end
    ready_check(host)
    changed = changed + 1
  end
end
return changed
"""

# ARGV: P, cap, worker, key, delay_ms ('' for the backoff), base_ms, max_ms, max_attempts
_NACK = _COMMON + r"""
local worker, key = ARGV[3], ARGV[4]
if redis.call('HGET', P .. ':w', key) ~= worker then return 0 end
local m = meta(key)
local attempts = tonumber(redis.call('HGET', P .. ':a', key) or '0') + 1
redis.call('HSET', P .. ':a', key, attempts)
unlease(key, m[2])
if attempts >= tonumber(ARGV[8]) then
  redis.call('HSET', P .. ':s', key, 'f')
  count(m[2], 'failed', 1)
else
  local delay = tonumber(ARGV[5])
  if not delay then
    delay = math.min(tonumber(ARGV[6]) * 2 ^ (attempts - 1), tonumber(ARGV[7]))
  end
  local now = now_ms()
  enqueue(key, m[2], m[4], now + delay, now)
end
ready_check(m[2])
return 1
"""

# ARGV: P, cap, worker, keys* (none: every lease of the worker)
_RELEASE = _COMMON + r"""
local worker, now, released = ARGV[3], now_ms(), 0
local keys = {}
if #ARGV > 3 then
  for i = 4, #ARGV do keys[#keys + 1] = ARGV[i] end
else
  local all = redis.call('HGETALL', P .. ':w')
  for i = 1, #all, 2 do if all[i + 1] == worker then keys[#keys + 1] = all[i] end end
end
for _, key in ipairs(keys) do
  if redis.call('HGET', P .. ':w', key) == worker then
    local m = meta(key)
    unlease(key, m[2])
    if redis.call('HGET', hk(m[2]), 'holder') == worker then
      redis.call('HDEL', hk(m[2]), 'holder', 'held_until')
    end
    enqueue(key, m[2], m[4], now, now)
    ready_check(m[2])
    released = released + 1
  end
end
return released
"""

# ARGV: P, cap, host, delay_ms
_DEFER = _COMMON + r"""
redis.call('ZADD', P .. ':nb', 'GT', now_ms() + tonumber(ARGV[4]), ARGV[3])
redis.call('ZADD', P .. ':nb', 'NX', now_ms() + tonumber(ARGV[4]), ARGV[3])
redis.call('ZREM', P .. ':r', ARGV[3])
ready_check(ARGV[3])
return 1
"""

# ARGV: P, cap, exclude worker ('' none). Returns due, leased (not by exclude), oldest due ms
_STATS = _COMMON + r"""
local now = now_ms()
local due = redis.call('ZCOUNT', P .. ':t', '-inf', now)
local leased = tonumber(redis.call('HGET', P .. ':c', 'leased') or '0')
if ARGV[3] ~= '' then
  for _, w in ipairs(redis.call('HVALS', P .. ':w')) do
    if w == ARGV[3] then leased = leased - 1 end
  end
end
local oldest = redis.call('ZRANGE', P .. ':t', 0, 0, 'WITHSCORES')
local first = -1
if #oldest > 0 then first = tonumber(oldest[2]) end
return {due, leased, tostring(first), tostring(now)}
"""


class RedisFrontierStore(FrontierStore):
    def __init__(self, url: str, name: str, options: FrontierSettings, *, host_cap: int,
                 host_concurrency: int, client: redis.Redis | None = None):
        super().__init__(options, host_cap=host_cap, host_concurrency=host_concurrency)
        self.prefix = f"{options.key_prefix}:{name}"
        self._redis = client or redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
        r = self._redis
        self._scripts = {name: r.register_script(body) for name, body in (
            ("push", _PUSH), ("lease", _LEASE), ("renew", _RENEW), ("ack", _ACK),
            ("nack", _NACK), ("release", _RELEASE), ("defer", _DEFER), ("stats", _STATS))}
        self._call(r.ping)

    def _call(self, op: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return op(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise FrontierUnavailable(f"frontier Redis unavailable: {exc}") from exc
        except RedisError as exc:
            if "LOADING" in str(exc) or "MASTERDOWN" in str(exc):
                raise FrontierUnavailable(f"frontier Redis not ready: {exc}") from exc
            raise

    def _run(self, script: str, *args: object) -> Any:
        argv = [self.prefix, self.host_concurrency, *args]
        return self._call(self._scripts[script], keys=[], args=argv)

    def close(self) -> None:
        self._redis.close()

    def _push(self, items: list[Admitted], lease_to: str | None) -> list[Outcome]:
        if not items:
            return []
        argv: list[object] = [self.host_cap, int(self.options.lease_s * 1000), lease_to or ""]
        for a in items:
            i = a.item
            record = json.dumps([a.url, a.host, i.depth, i.priority, i.callback, i.errback])
            argv += [a.key, a.host, record, i.priority, int(max(i.delay_s, 0.0) * 1000)]
        return [Outcome(o) for o in self._run("push", *argv)]

    def lease(self, worker: str, n: int) -> list[Leased]:
        rows = self._run("lease", n, int(self.options.lease_s * 1000), worker,
                         int(self.options.host_affinity_s * 1000))
        out = []
        for key, record, attempts in rows:
            url, host, depth, priority, callback, errback = json.loads(record)
            out.append(Leased(key, url, host, depth, priority, callback, errback, int(attempts)))
        return out

    def renew(self, worker: str, keys: Iterable[str]) -> int:
        keys = list(keys)
        if not keys:
            return 0
        return int(self._run("renew", int(self.options.lease_s * 1000), worker, *keys))

    def ack(self, worker: str, keys: Iterable[str], *, refetch_after_s: float | None = None,
            priority: int | None = None) -> int:
        keys = list(keys)
        if not keys:
            return 0
        refetch = "" if refetch_after_s is None else int(max(refetch_after_s, 0.0) * 1000)
        return int(self._run("ack", refetch, "" if priority is None else priority, *keys))

    def nack(self, worker: str, key: str, *, delay_s: float | None = None) -> bool:
        o = self.options
        delay = "" if delay_s is None else int(max(delay_s, 0.0) * 1000)
        return bool(self._run("nack", worker, key, delay, int(o.retry_base_s * 1000),
                              int(o.retry_max_s * 1000), o.max_attempts))

    def release(self, worker: str, keys: Iterable[str] | None = None) -> int:
        if keys is None:
            return int(self._run("release", worker))
        keys = list(keys)
        return int(self._run("release", worker, *keys)) if keys else 0

    def defer_host(self, host: str, delay_s: float) -> None:
        self._run("defer", host, int(max(delay_s, 0.0) * 1000))

    def set_uptime_only(self, hosts: Iterable[str]) -> None:
        hosts = sorted(set(hosts))
        key, staging = f"{self.prefix}:uo", f"{self.prefix}:uo:new"
        # MULTI/EXEC: readers see the old set or the new one, never a part.
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(staging)
        for start in range(0, len(hosts), 1000):
            pipe.sadd(staging, *hosts[start:start + 1000])
        if hosts:
            pipe.rename(staging, key)
        else:
            pipe.delete(key)
        pipe.incr(f"{self.prefix}:uov")
        self._call(pipe.execute)

    def uptime_only_version(self) -> int:
        return int(self._call(self._redis.get, f"{self.prefix}:uov") or 0)

    def uptime_only_hosts(self) -> frozenset[str]:
        return frozenset(self._call(self._redis.smembers, f"{self.prefix}:uo"))

    def holders(self) -> list[str]:
        return sorted(set(self._call(self._redis.hvals, f"{self.prefix}:w")))

    def pending(self, exclude: str | None = None) -> int:
        due, leased, _, _ = self._run("stats", exclude or "")
        return int(due) + int(leased)

    def is_known(self, url: str) -> bool:
        return bool(self._call(self._redis.hexists, f"{self.prefix}:m", self.key_of(url)))

    def host(self, host: str) -> HostState:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(f"{self.prefix}:h:{host}")
        pipe.zscore(f"{self.prefix}:nb", host)
        pipe.time()
        values, until, (seconds, micros) = self._call(pipe.execute)
        now_ms = seconds * 1000 + micros / 1000
        deferred = max((until or 0) - now_ms, 0.0) / 1000
        return HostState(host, **{f: int(values.get(f, 0)) for f in
                                  ("admitted", "queued", "leased", "done", "failed")},
                         deferred_s=deferred)

    def counts(self, top: int = 10) -> FrontierCounts:
        due, _, oldest, now = self._run("stats", "")
        totals = self._call(self._redis.hgetall, f"{self.prefix}:c")
        hosts = self._call(self._redis.smembers, f"{self.prefix}:hosts")
        queues = []
        if hosts:
            pipe = self._redis.pipeline(transaction=False)
            for h in hosts:
                pipe.hget(f"{self.prefix}:h:{h}", "queued")
            queues = [(h, int(q or 0)) for h, q in zip(hosts, self._call(pipe.execute),
                                                       strict=True)]
        queues = sorted((q for q in queues if q[1] > 0), key=lambda q: (-q[1], q[0]))[:top]
        first = float(oldest)
        return FrontierCounts(
            queued=int(totals.get("queued", 0)), due=int(due),
            leased=int(totals.get("leased", 0)), done=int(totals.get("done", 0)),
            failed=int(totals.get("failed", 0)),
            oldest_due_s=None if first < 0 or first > float(now)
            else (float(now) - first) / 1000, top_hosts=queues)
