"""Settings of the onion crawler (read by crawler/settings.py, the download handler, the
middlewares, the spider and ``heroes crawl``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from config.sections.base import Section


class LoginSettings(Section):
    """One ``[[crawler.logins]]`` entry: a form login the crawler does before crawling an onion.
    The password belongs in the environment (``HEROES_CRAWLER__LOGINS`` as JSON) or a
    secrets file, never in the repository or the defaults."""

    onion: str = Field(..., min_length=62, description="The onion host the account is for.")
    login_url: str = Field(..., min_length=1, description="URL the login form posts to.")
    username_field: str = Field("username", description="Form field of the user name.")
    password_field: str = Field("password", description="Form field of the password.")
    username: str = Field(..., min_length=1, description="Account name.")
    password: SecretStr = Field(..., description="Account password (environment only).")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Other form fields to send (hidden inputs)."
    )
    success_text: str = Field(
        "", description="Text the page after logging in shows (empty: no login wall is enough)."
    )
    analyst: str = Field(..., min_length=1, description="Who supplied the account (audit log).")


class CrawlerSettings(Section):
    seeds: list[str] = Field(
        default_factory=list, description="Start URLs (onion URLs by default)."
    )
    allow_clearnet: bool = Field(
        False,
        description="Fetch non-onion hosts too. Off: every other host is dropped and counted.",
    )
    concurrency: int = Field(16, ge=1, le=1024, description="Requests in flight at once.")
    concurrency_per_host: int = Field(
        8,
        ge=1,
        le=1024,
        description="Requests in flight to one onion at once (Tor streams per service).",
    )
    max_pages_per_host: int = Field(
        10_000, ge=1, description="Pages fetched per onion host at most."
    )
    max_depth: int = Field(10, ge=0, le=1000, description="Link depth from a seed at most.")
    connect_timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Timeout to open a stream through Tor, to start with: it adapts per onion "
        "(grows on a timeout, shrinks back on fast opens).",
    )
    max_connect_timeout_s: float = Field(
        180.0,
        gt=0,
        le=1800,
        description="A per-onion connect timeout grows to this at most (slow and "
        "proof-of-work-protected onions take 40-120 s to open).",
    )
    connect_timeout_growth: float = Field(
        2.0, ge=1.1, le=10, description="Factor a per-onion connect timeout grows by on a timeout."
    )
    retry_backoff_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Wait before retrying a fetch that failed on its circuit or timed out; "
        "doubles with each retry of that URL.",
    )
    max_retry_backoff_s: float = Field(
        300.0, gt=0, le=86400, description="The retry wait grows to this at most."
    )
    host_down_backoff_s: float = Field(
        960.0,
        gt=0,
        le=86400,
        description="An onion that is down or refuses its address (SOCKS 0xF0-0xF7) gets no "
        "request for this long; doubles with each such failure in a row (after a descriptor "
        "was not found, Tor asks the same directories again only 15 minutes later).",
    )
    max_host_down_backoff_s: float = Field(
        21600.0, gt=0, le=604800, description="The host-down wait grows to this at most."
    )
    mirror_max_distance: int = Field(
        3,
        ge=0,
        le=3,
        description="Front pages whose 64-bit SimHashes differ in at most this many bits are "
        "mirrors: their services form one mirror group (3 at most: the index finds candidates "
        "by 16-bit quarters, and hashes within 3 bits share one).",
    )
    read_timeout_s: float = Field(60.0, gt=0, le=3600, description="Timeout of a whole download.")
    max_response_bytes: int = Field(
        5_000_000,
        ge=1024,
        description="Response size cap (decompressed); larger downloads are cut.",
    )
    fetch_media: bool = Field(
        True, description="Fetch images and videos to hash them in memory (never stored)."
    )
    max_media_bytes: int = Field(
        10_000_000,
        ge=1024,
        description="Size cap of one media download: a larger file is cut there, its hashes "
        "are of this prefix and it is marked truncated.",
    )
    video_max_seconds: float = Field(
        600.0,
        gt=0,
        le=86_400,
        description="A video is decoded (and vPDQ-hashed, one frame a second) up to this "
        "running time.",
    )
    video_max_frames: int = Field(
        40_000,
        ge=1,
        le=10_000_000,
        description="A video's decode stops after this many frames, whatever its frame rate "
        "or timestamps claim.",
    )
    user_agent: str = Field(
        "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0",
        description="User-Agent header (Tor Browser's, so the crawler does not stand out).",
    )
    recrawl_interval_h: float = Field(
        24.0, gt=0, description="Hours between re-crawls of a live service."
    )
    dead_backoff_base: float = Field(
        1.5, ge=1.0, le=10, description="Backoff factor for dead services."
    )
    max_recheck_s: float = Field(
        7 * 86400.0, gt=0, description="A known service's front page is checked again at "
        "least this often, however long it has been down (caps the dead-service backoff).")
    refetch_interval_s: float = Field(
        7 * 86400.0, gt=0, description="crawl --forever: a deep page (not a front page) is "
        "fetched again this long after its last fetch (conditionally: If-None-Match / "
        "If-Modified-Since, and an unchanged body is not indexed again).")
    dead_after_checks: int = Field(
        3, ge=1, description="A service down this many checks in a row counts as dead (crawl "
        "status); its re-checks keep backing off.")
    service_scan_s: float = Field(
        3600.0, gt=0, description="crawl --forever: how often the index's known services are "
        "read (all of them, page by page) so that every one is queued for its re-check.")
    warc: bool = Field(
        True,
        description="Write every fetched page to WARC files under <data_dir>/warc (text bodies "
        "only; media as metadata records of their hashes), sealed into the capture log.",
    )
    warc_max_bytes: int = Field(
        1_000_000_000,
        ge=100_000,
        description="A WARC file is closed and sealed once it reaches this size (bytes).",
    )
    politeness: bool = Field(
        True,
        description="Per-host throttle: streams per circuit, a delay between requests that "
        "grows on 429/503, Retry-After honoured, a slow start after NEWNYM. Off: as many "
        "streams as concurrency_per_host, 429/503 retried at once.",
    )
    streams_per_circuit: int = Field(
        2, ge=1, le=64, description="Tor streams open at once to one onion (its one circuit)."
    )
    host_delay_s: float = Field(
        0.25, ge=0, le=600, description="Seconds between two requests to one onion, at least."
    )
    max_host_delay_s: float = Field(
        120.0, gt=0, le=3600, description="The adaptive per-host delay grows to this at most."
    )
    rate_window_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="The window a site's rate limit is assumed to count in: after a 429 the "
        "delay becomes this window divided by the requests it accepted in one.",
    )
    rate_limit_retries: int = Field(
        6, ge=0, le=100, description="Times one URL is retried after 429/503 before giving up."
    )
    backoff_base_s: float = Field(
        2.0, gt=0, le=600, description="First wait after a 429/503 without Retry-After; doubles "
        "with each one in a row."
    )
    max_retry_after_s: float = Field(
        900.0, gt=0, description="A Retry-After longer than this is capped to it."
    )
    queue_max_waits: int = Field(
        6, ge=0, le=100, description="Times a queue (waiting) page is waited out per URL."
    )
    queue_max_wait_s: float = Field(
        30.0, gt=0, le=600, description="Seconds one queue wait lasts at most."
    )
    sessions_key: SecretStr = Field(
        SecretStr(""),
        description="Key that encrypts imported sessions and login credentials at rest "
        "(environment only: HEROES_CRAWLER__SESSIONS_KEY).",
    )
    sessions_key_file: str = Field(
        "",
        description="File holding that key instead (must lie outside data_dir).",
    )
    logins: list[LoginSettings] = Field(
        default_factory=list,
        description="Form logins ([[crawler.logins]]) done before crawling their onions.",
    )
    render: list[str] = Field(
        default_factory=list,
        description="Onion hosts whose pages are always rendered in headless Chromium.",
    )
    render_auto: bool = Field(
        True, description="Render a page classified js-required (no text without JavaScript)."
    )
    render_concurrency: int = Field(
        2, ge=1, le=16, description="Pages rendered at once (each costs a Chromium tab)."
    )
    render_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Seconds one page may take to render."
    )
    chromium_path: str = Field(
        "/usr/bin/chromium", description="The Chromium executable (Debian's chromium package)."
    )
