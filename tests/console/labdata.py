"""Synthetic, innocuous documents of every kind for the console tests (generic market text)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta

from documents import (
    Alert,
    Document,
    FlaggedHash,
    Match,
    Observation,
    Page,
    Service,
    Torrent,
)
from documents.alert import MatchedRef
from documents.page import Entities, Media
from documents.service import Check
from documents.torrent import TorrentFile

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOSTS = [hashlib.sha256(f"host{i}".encode()).hexdigest()[:56] + ".onion" for i in range(4)]
WALLET = "bc1qlabwallet0000000000000000000000000000"
EMAIL = "seller@example.org"
INFOHASH = hashlib.sha1(b"lab torrent").hexdigest()
FLAGGED_SHA256 = hashlib.sha256(b"lab image 1").hexdigest()
HOSTILE_TITLE = "<script>window.__pwned = 1</script>Hostile listing"
HOSTILE_TEXT = (
    '<img src=x onerror="window.__pwned=2"> <b>bold</b> '
    '<a href="javascript:window.__pwned=3">click</a> tea market'
)
WORDS = "tea coffee market forum listing shipping vendor escrow review garden books lamp".split()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def documents(seed: int = 7) -> list[Document]:
    rnd = random.Random(seed)
    docs: list[Document] = []
    for h, host in enumerate(HOSTS):
        history = [
            Check(at=T0 + timedelta(hours=6 * i), up=(i + h) % 5 != 0, status=200)
            for i in range(20)
        ]
        docs.append(
            Service(
                host=host,
                first_seen=T0,
                last_seen=T0 + timedelta(days=5),
                up=True,
                title=f"Market {h}",
                server="nginx",
                page_count=6,
                history=history,
            )
        )
        for p in range(6):
            text = " ".join(rnd.choice(WORDS) for _ in range(40))
            other = HOSTS[(h + 1) % len(HOSTS)]
            entities = Entities(
                onions=[other],
                btc=[WALLET] if p % 2 == 0 else [],
                emails=[EMAIL] if h < 2 else [],
                infohashes=[INFOHASH] if p == 0 else [],
                magnets=[f"magnet:?xt=urn:btih:{INFOHASH}"] if p == 0 else [],
            )
            media = [
                Media(
                    url=f"http://{host}/img{p}.jpg",
                    sha256=_sha(f"img{h}{p}"),
                    md5=hashlib.md5(f"img{h}{p}".encode()).hexdigest(),
                )
            ]
            matches: list[Match] = []
            if h == 0 and p == 1:
                media = [Media(url=f"http://{host}/item.jpg", sha256=FLAGGED_SHA256, flagged=True)]
                matches = [
                    Match(
                        list="lab-list",
                        type="sha256",
                        value=FLAGGED_SHA256,
                        field="media.sha256",
                        category="lab",
                    )
                ]
            docs.append(
                Page(
                    url=f"http://{host}/item/{p}",
                    fetched_at=T0 + timedelta(hours=h * 7 + p),
                    title=f"{rnd.choice(WORDS).title()} listing {h}-{p}",
                    text=text,
                    lang="en",
                    sha256=_sha(text),
                    links=[f"http://{other}/", "javascript:alert(1)"],
                    entities=entities,
                    media=media,
                    matches=matches,
                    flagged=bool(matches),
                )
            )
    docs.append(
        Page(
            url=f"http://{HOSTS[3]}/hostile",
            fetched_at=T0 + timedelta(days=2),
            title=HOSTILE_TITLE,
            text=HOSTILE_TEXT,
            lang="en",
            sha256=_sha("hostile"),
            entities=Entities(btc=[WALLET], emails=["<script>@example.org"]),
        )
    )
    docs.append(
        FlaggedHash(
            value=FLAGGED_SHA256, type="sha256", list="lab-list", category="lab", added_at=T0
        )
    )
    docs.append(
        FlaggedHash(value=INFOHASH, type="infohash", list="lab-list", category="lab", added_at=T0)
    )
    docs.append(
        Torrent(
            infohash=INFOHASH,
            name="garden-photos",
            files=[TorrentFile(path="garden/a.bin", size=1000)],
            total_size=1000,
            num_pieces=4,
            piece_length=256,
            found_on=[f"http://{HOSTS[0]}/item/0"],
            first_seen=T0,
            metadata_at=T0 + timedelta(hours=1),
        )
    )
    for i in range(8):
        seen = T0 + timedelta(hours=3 * i)
        docs.append(
            Observation(
                infohash=INFOHASH,
                ip=f"127.0.0.{10 + i}",
                port=6881 + i,
                sources=["tracker"],
                client="qBittorrent 4.6" if i % 2 else "lab",
                have_fraction=0.25 * (i % 4),
                first_seen=seen,
                last_seen=seen + timedelta(hours=1),
                level=i % 3,
            )
        )
    for i, severity in enumerate(("high", "low")):
        docs.append(
            Alert(
                rule="hash-hit" if i == 0 else "new-service",
                key=f"k{i}",
                window_start=T0,
                severity=severity,
                created_at=T0 + timedelta(hours=i),
                first_seen=T0,
                last_seen=T0,
                summary=f"lab alert {i} <b>x</b>",
                matched=[MatchedRef(kind="page", id=docs[1].id, summary="page 0-0")],
            )
        )
    return docs
