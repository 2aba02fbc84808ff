"""The lab's onion population: 34 onion services (and 3 dead addresses) for a crawl service.

:func:`up` joins a running lab Tor network (:mod:`heroes.lab.tor_network`) with two
recorded lab processes (group ``population``, :mod:`heroes.lab.processes`): its own tor,
which hosts every population service as an ephemeral onion service, and one web server
(:mod:`heroes.lab.population_server`) for all of them. The sites come from
:mod:`heroes.lab.population_sites`; ``up`` returns (and writes to
``<dir>/population/population.json``) where things are, and writes the ground truth to
``<dir>/population/ground_truth.json``. :class:`PopulationControl` withdraws and
re-publishes a service's descriptor on command and changes the slow onion's delay.
:func:`down` stops the two processes (their services vanish with them). Reads no
settings: the lab directory and :class:`PopulationOptions` come from the caller.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import stem
from stem import Signal
from stem.control import Controller

from heroes.lab import population_sites as sites
from heroes.lab import tor_config, tor_network
from heroes.lab.population_dynamic import http_date
from heroes.lab.population_onions import PopulationError
from heroes.lab.processes import LabProcessError, ProcessTable, ReadyCheck
from heroes.lab.site_entities import service_key
from heroes.lab.tor_config import LabSetupError

log = logging.getLogger(__name__)

GROUP = "population"
READY_TIMEOUT_S = 300.0
FIRST_FETCH_TIMEOUT_S = 180.0
# Every static page's Last-Modified (fixed, so a seed gives the same answers).
LAST_MODIFIED_S = 1767225600.0  # 2026-01-01T00:00:00Z

__all__ = ["GROUP", "PopulationControl", "PopulationError", "PopulationOptions", "down",
           "ground_truth", "info", "up"]


@dataclass(frozen=True)
class PopulationOptions:
    """What a test or demo may choose about the population's behaviour."""

    seed: int = 1
    slow_delay_s: float = 40.0  # pop-slow: seconds before the first byte
    rate_limit: int = 5  # pop-limited: at most this many requests ...
    rate_window_s: float = 10.0  # ... in any window this long, else 429
    schedule_up_s: float = 120.0  # pop-flaky-schedule: published this long (0: never
    schedule_down_s: float = 60.0  # withdrawn by itself), then withdrawn this long
    bulletin_period_s: float = 60.0  # pop-news /bulletin.html: new text every period

    def check(self) -> None:
        for name in ("slow_delay_s", "rate_window_s", "schedule_up_s", "schedule_down_s",
                     "bulletin_period_s"):
            if getattr(self, name) < 0:
                raise LabSetupError(f"population option {name} must be >= 0, not "
                                    f"{getattr(self, name)!r}")
        if self.rate_limit < 1 or self.rate_window_s <= 0 or self.bulletin_period_s <= 0:
            raise LabSetupError(f"population options: rate_limit >= 1, rate_window_s > 0 and "
                                f"bulletin_period_s > 0 needed, not {self!r}")


def _dir(lab_dir: Path) -> Path:
    return Path(lab_dir).resolve() / "population"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_server_config(pop_dir: Path, truth: dict[str, Any], opts: PopulationOptions,
                        ports: dict[str, int]) -> Path:
    """The web server's config file (0600: it holds the services' keys); returns its path."""
    services = {
        name: {"onion": s["onion"], "published": s["published"],
               "secret": base64.b64encode(service_key(opts.seed, name).secret_file).decode()}
        for name, s in truth["services"].items()}
    config = {
        "seed": opts.seed, "port": ports["web"], "admin_port": ports["admin"],
        "control_port": ports["control"], "sites_dir": str(pop_dir / "sites"),
        "services": services, "last_modified": LAST_MODIFIED_S,
        "slow_delay_s": opts.slow_delay_s, "bulletin_period_s": opts.bulletin_period_s,
        "rate_limit": {"limit": opts.rate_limit, "window_s": opts.rate_window_s},
        "schedule": {"up_s": opts.schedule_up_s, "down_s": opts.schedule_down_s},
        "requests_log": str(pop_dir / "requests.jsonl"),
        "events_log": str(pop_dir / "events.jsonl"),
    }
    path = pop_dir / "server.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps(config, indent=1))
    return path


def _behaviour(truth: dict[str, Any], opts: PopulationOptions, admin_url: str) -> dict[str, Any]:
    """The ground truth's keys about behaviour (the generator knows only the pages)."""
    svc = truth["services"]

    def url(name: str, path: str) -> str:
        return f"http://{svc[name]['onion']}{path}"

    schedule = ({"up_s": opts.schedule_up_s, "down_s": opts.schedule_down_s}
                if opts.schedule_up_s > 0 else None)
    return {
        "published": [n for n, s in svc.items() if s["published"]],
        "intermittent": {
            sites.FLAKY_SCHEDULE: {"onion": svc[sites.FLAKY_SCHEDULE]["onion"],
                                   "schedule": schedule},
            sites.FLAKY_COMMAND: {"onion": svc[sites.FLAKY_COMMAND]["onion"], "schedule": None},
        },
        "slow": {"service": sites.SLOW, "onion": svc[sites.SLOW]["onion"],
                 "delay_s": opts.slow_delay_s},
        "rate_limited": {"service": sites.LIMITED, "onion": svc[sites.LIMITED]["onion"],
                         "limit": opts.rate_limit, "window_s": opts.rate_window_s},
        "trap": {"service": sites.CALENDAR, "onion": svc[sites.CALENDAR]["onion"],
                 "start_url": url(sites.CALENDAR, sites.calendar_path(*sites.CALENDAR_START)),
                 "prefix": url(sites.CALENDAR, sites.CALENDAR_PREFIX),
                 "pattern": sites.CALENDAR_PREFIX + "YYYY/MM.html"},
        "changing": {
            url(sites.NEWS, sites.COUNTER_PATH): {"every_visit": True, "period_s": None},
            url(sites.NEWS, sites.BULLETIN_PATH): {"every_visit": False,
                                                   "period_s": opts.bulletin_period_s},
        },
        # Every other page answers ETag and this Last-Modified, and 304 when they match.
        "conditional": {"last_modified": http_date(LAST_MODIFIED_S),
                        "stable_url": url(sites.NEWS, "/article-1.html")},
        "admin_url": admin_url,
    }


def _newnym(control_port: int) -> None:
    try:
        with Controller.from_port(address="127.0.0.1", port=control_port) as controller:
            controller.authenticate()
            controller.signal(Signal.NEWNYM)
    except (stem.SocketError, stem.ControllerError) as exc:
        log.warning("NEWNYM on the lab client failed: %s", exc)


def _failure(socks_port: int, onion: str) -> str | None:
    """None when the service answered its probe path through the lab client, else why not."""
    try:
        status, _ = tor_network.socks_get(socks_port, onion, sites.PROBE_PATH,
                                          username="lab-population")
    except OSError as exc:
        return str(exc)
    return None if status == 204 else f"HTTP {status}"


def wait_all_answer(net: dict[str, Any], onions: list[str], deadline: float) -> list[str]:
    """Until every service answers through the lab client; returns how each round failed.

    A client that asked an HSDir before the descriptor got there does not ask that HSDir
    again for a while: after a round with failures, NEWNYM (which forgets that) and retry.
    At start-up, before anything crawls, and in a test before it crawls a service it must
    reach (NEWNYM also ends the client's other circuits).
    """
    pending, rounds, errors = list(onions), list[str](), dict[str, str | None]()
    with ThreadPoolExecutor(max_workers=8) as pool:
        while pending:
            errors = dict(zip(pending, pool.map(lambda o: _failure(net["socks"]["port"], o),
                                                pending), strict=True))
            pending = [o for o, error in errors.items() if error]
            kinds = Counter(re.sub(r" for \S+", "", e) for e in errors.values() if e)
            rounds.append(", ".join(f"{n}x {kind}" for kind, n in kinds.most_common()))
            if not pending:
                return rounds
            if time.monotonic() >= deadline:
                break
            log.info("%d population services did not answer yet; NEWNYM and retry",
                     len(pending))
            _newnym(net["control"]["port"])
            time.sleep(2.0)
    raise LabSetupError(f"{len(pending)} population services did not answer through the lab "
                        f"client, e.g. {pending[0]}: {errors[pending[0]]}")


def up(lab_dir: Path, options: PopulationOptions | None = None, *, tor: str = "tor",
       table: ProcessTable | None = None) -> dict[str, Any]:
    """Start the population on the lab's running Tor network; returns where things are.

    Raises :class:`LabSetupError` (with the failing process's log); what was started by
    then is stopped again.
    """
    opts = options or PopulationOptions()
    opts.check()
    lab_dir = Path(lab_dir).resolve()
    table = table if table is not None else ProcessTable.of(lab_dir)
    net = tor_network.status(lab_dir, table)
    if not net.get("running"):
        raise LabSetupError(f"the lab Tor network in {lab_dir} is not running "
                            "(start it with 'heroes lab up')")
    if any(r.stopped_at is None and r.alive() for r in table.records(GROUP)):
        raise LabSetupError(f"the population in {lab_dir} is already up")
    started = time.monotonic()
    pop_dir = _dir(lab_dir)
    if (pop_dir / "tor").exists():
        shutil.rmtree(pop_dir / "tor")  # nothing worth keeping: the onion keys are derived
    (pop_dir / "tor").mkdir(parents=True, mode=0o700)
    for stale in ("requests.jsonl", "events.jsonl", "server.log"):
        (pop_dir / stale).unlink(missing_ok=True)
    truth = sites.generate_population(pop_dir / "sites", opts.seed)
    ports = {"control": _free_port(), "web": _free_port(), "admin": _free_port()}
    admin_url = f"http://127.0.0.1:{ports['admin']}"
    truth.update(_behaviour(truth, opts, admin_url))
    torrc = pop_dir / "tor.torrc"
    torrc.write_text(tor_config.render("onion", nick="population", datadir=pop_dir / "tor",
                                       control_port=ports["control"],
                                       dirauthorities=net["dir_authorities"])
                     # 34 services build their intro and upload circuits at once; on a busy
                     # machine tor's learned build timeout then doubles without end and no
                     # circuit completes. A fixed timeout keeps them going.
                     + "LearnCircuitBuildTimeout 0\nCircuitBuildTimeout 30\n")
    config = write_server_config(pop_dir, truth, opts, ports)
    try:
        table.start("population-tor",
                    [tor, "--defaults-torrc", str(tor_config.empty_torrc(lab_dir)),
                     "-f", str(torrc)],
                    log=pop_dir / "tor.stdout.log", group=GROUP,
                    ports={"control_port": ports["control"]},
                    ready=ReadyCheck.tcp(ports["control"]))
        table.start("population-web",
                    [sys.executable, "-m", "heroes.lab.population_server", str(config)],
                    log=pop_dir / "server.log", group=GROUP,
                    ports={"web": ports["web"], "admin": ports["admin"]},
                    ready=ReadyCheck.log_line("population ready"),
                    timeout_s=READY_TIMEOUT_S)
        ready_s = time.monotonic() - started
        # The scheduled one may be withdrawn by now: it is the one not waited for.
        steady = [truth["services"][n]["onion"] for n in truth["published"]
                  if n != sites.FLAKY_SCHEDULE]
        rounds = wait_all_answer(net, steady, time.monotonic() + FIRST_FETCH_TIMEOUT_S)
    except LabProcessError as exc:
        table.stop(group=GROUP)
        raise LabSetupError(str(exc)) from exc
    except BaseException:
        table.stop(group=GROUP)
        raise
    (pop_dir / "ground_truth.json").write_text(json.dumps(truth, indent=1))
    result = {
        "running": True, "dir": str(pop_dir), "seed_url": truth["seed_url"],
        "ground_truth": str(pop_dir / "ground_truth.json"), "admin_url": admin_url,
        "web_port": ports["web"], "tor_control_port": ports["control"],
        "requests_log": str(pop_dir / "requests.jsonl"),
        "events_log": str(pop_dir / "events.jsonl"), "options": asdict(opts),
        "probe_path": sites.PROBE_PATH,
        "timings": {"published_s": round(ready_s, 1), "probe_failures": rounds,
                    "answered_s": round(time.monotonic() - started, 1)},
        "onions": {name: s["onion"] for name, s in truth["services"].items()},
    }
    (pop_dir / "population.json").write_text(json.dumps(result, indent=2))
    return result


def info(lab_dir: Path) -> dict[str, Any]:
    """What the last :func:`up` returned (``running`` false once :func:`down` ran)."""
    path = _dir(lab_dir) / "population.json"
    if not path.exists():
        raise LabSetupError(f"no population was started in {Path(lab_dir).resolve()}")
    return dict(json.loads(path.read_text()))


def ground_truth(lab_dir: Path) -> dict[str, Any]:
    return dict(json.loads((_dir(lab_dir) / "ground_truth.json").read_text()))


def down(lab_dir: Path, table: ProcessTable | None = None) -> list[str]:
    """Stop the population's tor and web server (and nothing else); returns their names."""
    table = table if table is not None else ProcessTable.of(Path(lab_dir).resolve())
    stopped = table.stop(group=GROUP)
    path = _dir(lab_dir) / "population.json"
    if path.exists():
        path.write_text(json.dumps({**json.loads(path.read_text()), "running": False}, indent=2))
    return stopped


class PopulationControl:
    """Commands to the running population's web server (its admin port on 127.0.0.1)."""

    def __init__(self, admin_url: str, timeout_s: float = 120.0):
        self.admin_url = admin_url.rstrip("/")
        self.timeout_s = timeout_s

    @classmethod
    def of(cls, lab_dir: Path) -> PopulationControl:
        return cls(str(info(lab_dir)["admin_url"]))

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.admin_url + path, method=method, data=None)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as reply:
                return dict(json.loads(reply.read()))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise PopulationError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise PopulationError(f"{method} {self.admin_url}{path}: {exc}") from exc

    def state(self) -> dict[str, str]:
        """Service name -> ``up``, ``down`` or ``dead``."""
        return dict(self._call("GET", "/state")["services"])

    def take_down(self, name: str) -> None:
        """Withdraw the service's descriptor (its introduction points close)."""
        self._call("POST", f"/services/{name}/down")

    def bring_up(self, name: str) -> None:
        """Publish the service again; returns once its descriptor was uploaded."""
        self._call("POST", f"/services/{name}/up")

    def set_slow_delay(self, delay_s: float) -> None:
        self._call("POST", f"/slow?delay_s={delay_s}")
