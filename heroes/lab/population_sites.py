"""The lab's onion population: the plan of its services and their generated static pages.

``generate_population(out_dir, seed)`` writes one directory of static pages per service
(through :class:`heroes.lab.site_pages.SiteWorld`, the generator the other lab sites use)
and returns the ground truth. The same seed gives the same bytes and the same onion
addresses (each service's key is :func:`heroes.lab.site_entities.service_key` of its name,
so hostnames are known before anything is published).

The population (34 published services, 3 dead ones):

* ``pop-directory``: the crawl seed; links to every published service except the two
  text-only ones and to two dead ones, and writes onion addresses (a text-only one, the
  third dead one) in its text;
* 20 generic market, forum and paste sites of 3 to 200 pages, each linking to the next;
* mirror groups ``mirror-a`` (3 services) and ``mirror-b`` (2): the same pages under
  different onions, front pages differing in one sentence;
* ``pop-flaky-schedule`` (withdrawn and re-published on a schedule) and
  ``pop-flaky-command`` (only when told);
* ``pop-slow`` (first byte after a delay), ``pop-limited`` (429 with ``Retry-After`` when
  visited faster than its limit), ``pop-calendar`` (a URL trap: every month links the next,
  without end), ``pop-news`` (a page that changes on every visit, one that changes every
  period, and stable articles);
* ``pop-hidden-1`` and ``pop-hidden-2``: published, but written only as plain text on other
  pages (never linked);
* ``pop-dead-1..3``: valid addresses that are never published;
* ``pop-op-*``: the operator groups of :mod:`heroes.lab.operators` (sites sharing an
  analytics id, a favicon, a PGP key, a template, contacts or a picture, and decoys sharing
  only common values), each site with its favicon and picture; linked from nowhere, so only
  a crawl seeded with them (:func:`operator_sites`) reaches them; ``pop-op-relaunch-old``
  and ``pop-op-relaunch-new``, one site under two onions (ground truth ``relaunch``), for
  a withdrawn service found again.

The behaviour (delays, limits, changing pages, the trap, withdrawing descriptors) lives in
:mod:`heroes.lab.population_server`; this module only names where it applies. Reads no
settings.
"""

from __future__ import annotations

import random
import re
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from heroes.lab.operators import OperatorSite, operator_world, relaunch_pair
from heroes.lab.site_entities import service_key
from heroes.lab.site_pages import SENTENCES, WORDS, SitePage, SiteWorld

PREFIX = "pop-"
DIRECTORY = "pop-directory"
GENERIC_SIZES = (3, 3, 4, 4, 5, 5, 6, 8, 8, 10, 12, 15, 20, 25, 30, 40, 60, 80, 120, 200)
GENERIC_KINDS = ("market", "forum", "paste")
MIRROR_GROUPS = {"mirror-a": 3, "mirror-b": 2}
MIRROR_PAGES = 6
DEAD = ("pop-dead-1", "pop-dead-2", "pop-dead-3")
HIDDEN = ("pop-hidden-1", "pop-hidden-2")
FLAKY_SCHEDULE = "pop-flaky-schedule"
FLAKY_COMMAND = "pop-flaky-command"
SLOW = "pop-slow"
LIMITED = "pop-limited"
CALENDAR = "pop-calendar"
NEWS = "pop-news"
# Paths the server answers itself (pop-news, pop-calendar).
COUNTER_PATH = "/counter.html"
BULLETIN_PATH = "/bulletin.html"
CALENDAR_PREFIX = "/calendar/"
CALENDAR_START = (2026, 1)
# Answered 204 by every published service at once (no delay, no limit): the start-up check.
PROBE_PATH = "/lab-probe"
KEY_SUFFIX = ".hs_ed25519_secret_key"
OPERATOR_PREFIX = "pop-op-"
# Pairs and two decoys: every onion more is one more descriptor the population's tor
# publishes before the tests start (the groups of three are analysed without Tor).
OPERATOR_WORLD = {"sites_per_group": 2, "decoys": 2}
# A site and its relaunch under a new onion (same favicon, PGP key and template), both
# published: a test withdraws the first and finds the second.
RELAUNCH_OLD = OPERATOR_PREFIX + "relaunch-old"
RELAUNCH_NEW = OPERATOR_PREFIX + "relaunch-new"


@dataclass(frozen=True)
class ServiceSpec:
    """One population service: what it is and how it behaves.

    ``role`` is one of ``directory``, ``generic``, ``mirror``, ``intermittent``, ``slow``,
    ``rate_limited``, ``trap``, ``changing``, ``text_only``, ``dead``, ``operator``.
    """

    name: str
    role: str
    kind: str = ""  # market, forum or paste for generic sites
    size: int = 0  # static pages written
    group: str = ""  # mirror group
    published: bool = True


def plan() -> list[ServiceSpec]:
    """Every service of the population, in a fixed order."""
    specs = [ServiceSpec(DIRECTORY, "directory", size=2)]
    for i, size in enumerate(GENERIC_SIZES, 1):
        kind = GENERIC_KINDS[(i - 1) % len(GENERIC_KINDS)]
        specs.append(ServiceSpec(f"{PREFIX}{kind}-{i:02d}", "generic", kind, size))
    for group, members in MIRROR_GROUPS.items():
        for k in range(1, members + 1):
            specs.append(ServiceSpec(f"{PREFIX}{group}{k}", "mirror", "market",
                                     MIRROR_PAGES + 1, group))
    specs += [
        ServiceSpec(FLAKY_SCHEDULE, "intermittent", "forum", 4),
        ServiceSpec(FLAKY_COMMAND, "intermittent", "market", 4),
        ServiceSpec(SLOW, "slow", "paste", 3),
        ServiceSpec(LIMITED, "rate_limited", "market", 12),
        ServiceSpec(CALENDAR, "trap", size=2),
        ServiceSpec(NEWS, "changing", size=5),
        *(ServiceSpec(name, "text_only", "paste", 3) for name in HIDDEN),
        *(ServiceSpec(name, "dead", published=False) for name in DEAD),
        *(ServiceSpec(name, "operator", size=1) for name in _operator_names()),
    ]
    return specs


def _operator_service(site_name: str) -> str:
    return OPERATOR_PREFIX + re.sub(r"[^a-z0-9]+", "-", site_name.lower()).strip("-")


def _operator_names() -> list[str]:
    names = [_operator_service(site.name) for site in operator_world(**OPERATOR_WORLD)]
    return [*names, RELAUNCH_OLD, RELAUNCH_NEW]


def operator_sites(seed: int) -> list[tuple[str, OperatorSite]]:
    """Each operator service the population with ``seed`` serves and its site, under its
    onion: the groups and decoys, then the relaunch pair."""
    def host(name: str) -> str:
        return service_key(seed, name).hostname

    groups = operator_world(**OPERATOR_WORLD, onion=lambda site: host(_operator_service(site)))
    old, new = relaunch_pair()
    return [*((_operator_service(site.name), site) for site in groups),
            (RELAUNCH_OLD, replace(old, host=host(RELAUNCH_OLD))),
            (RELAUNCH_NEW, replace(new, host=host(RELAUNCH_NEW)))]


_ITEM = {"market": "Listing", "forum": "Thread", "paste": "Paste"}
_TITLE = {"market": "Market", "forum": "Forum", "paste": "Paste Bin"}


def _item_page(w: SiteWorld, spec: ServiceSpec, i: int, pages: int) -> SitePage:
    page = w.page(spec.name, f"/{spec.kind}-{i}.html", f"{_ITEM[spec.kind]} {i}")
    if spec.kind == "market":
        page.prose(2)
        page.p(f"Price: {w.rng.randrange(5, 500)} units. {w.rng.choice(WORDS).title()} "
               "included.")
    elif spec.kind == "forum":
        page.prose(2)
        for reply in range(1, w.rng.randrange(2, 5)):
            page.p(f"Reply {reply} by member{w.rng.randrange(100, 999)}: "
                   f"{w.rng.choice(SENTENCES)}")
    else:
        page.parts.append(f"<pre>{w.rng.choice(SENTENCES)}\n{w.rng.choice(SENTENCES)}</pre>")
    # A tree: every page j > 1 is linked from page j // 2, so all of them are reachable.
    for j in (2 * i, 2 * i + 1):
        if j < pages:
            page.link(f"/{spec.kind}-{j}.html", f"{_ITEM[spec.kind]} {j}")
    page.link("/", "Index")
    return page


def _build_site(w: SiteWorld, spec: ServiceSpec, title: str, next_host: str = "") -> SitePage:
    """A front page and ``spec.size - 1`` item pages of market, forum or paste text."""
    index = w.page(spec.name, "/", title)
    index.prose(2)
    for i in range(1, min(spec.size, 11)):
        index.link(f"/{spec.kind}-{i}.html", f"{_ITEM[spec.kind]} {i}: "
                   f"{w.rng.choice(WORDS)}")
    if next_host:
        index.link(f"http://{next_host}/", "A friendly service")
    for i in range(1, spec.size):
        _item_page(w, spec, i, spec.size)
    return index


def _build_mirrors(w: SiteWorld, group: str, members: list[ServiceSpec]) -> None:
    """The same pages under each member; front pages differ only in the "you are on" line."""
    rng = random.Random(f"{w.seed}/{group}")
    intro = " ".join(rng.choice(SENTENCES) for _ in range(4))
    listings = [(f"{rng.choice(WORDS)} pack", " ".join(rng.choice(SENTENCES) for _ in range(3)),
                 rng.randrange(5, 500)) for _ in range(MIRROR_PAGES)]
    onions = [w.hosts[m.name] for m in members]
    for k, spec in enumerate(members, 1):
        index = w.page(spec.name, "/", f"{group.title()} Market")
        index.p(intro)
        index.p(f"You are on mirror {k} of {len(members)}.")
        for onion in onions:
            index.plant("onions", onion, f"Official mirror: {onion}")
        for i, (name, _, _) in enumerate(listings, 1):
            index.link(f"/listing-{i}.html", f"Listing {i}: {name}")
        for i, (name, text, price) in enumerate(listings, 1):
            page = w.page(spec.name, f"/listing-{i}.html", f"Listing {i}: {name}")
            page.p(text)
            page.p(f"Price: {price} units.")
            page.link("/", "Market index")


def _build_news(w: SiteWorld) -> None:
    index = w.page(NEWS, "/", "Community News")
    index.p("News from the community, updated all the time.")
    index.link(COUNTER_PATH, "Visitor counter")
    index.link(BULLETIN_PATH, "Latest bulletin")
    for i in range(1, 4):
        index.link(f"/article-{i}.html", f"Article {i}")
        article = w.page(NEWS, f"/article-{i}.html", f"Article {i}")
        article.prose(4)
        article.link("/", "News")


def _build_calendar(w: SiteWorld) -> None:
    year, month = CALENDAR_START
    index = w.page(CALENDAR, "/", "Meetup Calendar")
    index.p("Monthly meetups of the members. Every month has its own page.")
    index.link(calendar_path(year, month), "This month")
    index.link("/about.html", "About the meetups")
    about = w.page(CALENDAR, "/about.html", "About the meetups")
    about.prose(3)
    about.link("/", "Calendar")


def calendar_path(year: int, month: int) -> str:
    return f"{CALENDAR_PREFIX}{year:04d}/{month:02d}.html"


def _build_directory(w: SiteWorld, specs: list[ServiceSpec]) -> SitePage:
    index = w.page(DIRECTORY, "/", "Onion Population Directory")
    index.p("Services seen this month. Some are slow, some come and go.")
    for spec in specs:
        if spec.name not in (DIRECTORY, DEAD[-1]) and spec.role not in ("text_only",
                                                                           "operator"):
            label = "An older service" if spec.role == "dead" else spec.name[len(PREFIX):]
            index.link(f"http://{w.hosts[spec.name]}/", label)
    hidden = w.hosts[HIDDEN[0]]
    index.plant("onions", hidden, f"Reported by a member, not yet listed: {hidden}")
    index.plant("onions", w.hosts[DEAD[-1]], f"Gone since spring: {w.hosts[DEAD[-1]]}")
    index.link("/about.html", "About")
    about = w.page(DIRECTORY, "/about.html", "About")
    about.prose(3)
    about.link("/", "Directory")
    return index


def _write(w: SiteWorld, out_dir: Path, specs: list[ServiceSpec]) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for spec in specs:
        if spec.published:
            (out_dir / spec.name).mkdir()
    for page in w.pages:
        rel = page.path.lstrip("/") or "index.html"
        target = out_dir / page.service / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.render())


def _write_operators(sites: list[tuple[str, OperatorSite]], out_dir: Path) -> None:
    for name, site in sites:
        root = out_dir / name
        files = {**site.pages, **site.images, "/favicon.ico": site.favicon}
        for path, body in files.items():
            target = root / (path.lstrip("/") or "index.html")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)


def generate_population(out_dir: Path, seed: int = 1) -> dict[str, Any]:
    """Write the population's static pages under ``out_dir`` (replacing earlier ones) and
    return the ground truth (see :func:`heroes.lab.population.ground_truth_keys`)."""
    specs = plan()
    w = SiteWorld(seed, "", [s.name for s in specs])
    _build_directory(w, specs)
    generic = [s for s in specs if s.role == "generic"]
    for i, spec in enumerate(generic):
        nxt = generic[(i + 1) % len(generic)].name
        _build_site(w, spec, f"{_TITLE[spec.kind]} {spec.name[-2:]}", w.hosts[nxt])
    for group in MIRROR_GROUPS:
        _build_mirrors(w, group, [s for s in specs if s.group == group])
    for spec in specs:
        if spec.role in ("intermittent", "slow", "rate_limited", "text_only"):
            front = _build_site(w, spec, f"{spec.name[len(PREFIX):].title()} {_TITLE[spec.kind]}")
            if spec.role == "intermittent":
                front.p("This service is offline now and then. Come back later.")
    _build_news(w)
    _build_calendar(w)
    # The second text-only service is written on a generic forum thread, far from the seed.
    thread = next(p for p in w.pages if p.service == generic[-2].name and p.path != "/")
    hidden = w.hosts[HIDDEN[1]]
    thread.plant("onions", hidden, f"We moved. New address: {hidden}")
    _write(w, Path(out_dir), specs)
    operators = operator_sites(seed)
    _write_operators(operators, Path(out_dir))
    truth = _truth(w, specs)
    truth["operators"], truth["relaunch"] = {}, {}
    for name, site in operators:
        truth["services"][name]["pages"] = [f"http://{site.host}{path}" for path in site.pages]
        for path in site.pages:
            truth["pages"][f"http://{site.host}{path}"] = {
                "service": name, "path": path, "title": site.name, "links": [], "onions": []}
        record = {"onion": site.host, "site": site.name, "group": site.group,
                  "shares": site.shares}
        if name in (RELAUNCH_OLD, RELAUNCH_NEW):
            truth["relaunch"]["old" if name == RELAUNCH_OLD else "new"] = {**record,
                                                                           "service": name}
        else:
            truth["operators"][name] = record
    return truth


def _truth(w: SiteWorld, specs: list[ServiceSpec]) -> dict[str, Any]:
    by_service: dict[str, list[str]] = {s.name: [] for s in specs}
    for page in w.pages:
        by_service[page.service].append(page.url)
    text_onions: dict[str, list[str]] = {}
    for page in w.pages:
        linked = {u.split("/")[2] for u in page.links if u.startswith("http://")}
        for onion in sorted(page.entities["onions"] - linked):
            text_onions.setdefault(onion, []).append(page.url)
    name_of = {w.hosts[s.name]: s.name for s in specs}
    return {
        "seed": w.seed,
        "seed_url": w.url(DIRECTORY, "/"),
        "services": {s.name: {**asdict(s), "onion": w.hosts[s.name],
                              "pages": by_service[s.name]} for s in specs},
        "pages": {p.url: {"service": p.service, "path": p.path, "title": p.title,
                          "links": p.links,
                          "onions": sorted(p.entities["onions"])} for p in w.pages},
        "mirror_groups": {g: [s.name for s in specs if s.group == g] for g in MIRROR_GROUPS},
        "dead": [s.name for s in specs if s.role == "dead"],
        "dead_onions": [w.hosts[s.name] for s in specs if s.role == "dead"],
        # Onions written as plain text (not in a link) on a page: onion -> pages.
        "text_onions": text_onions,
        # Published services only ever written as text: name -> where.
        "text_only": {name_of[o]: pages for o, pages in text_onions.items()
                      if name_of.get(o) in HIDDEN},
    }
