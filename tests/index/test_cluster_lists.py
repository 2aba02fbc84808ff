"""Hash lists in the cluster: a list imported on installation A flags what B drains.

Two data directories on the real Elasticsearch node; A imports a file through the production
importer and publishes the list; B's drain role (with matching and the alert engine) follows
it from the cluster and flags a page drained there, and its alert email reaches the lab sink.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import Settings
from documents import Page
from index.backends.elasticsearch import ElasticsearchBackend
from index.hashsets.cluster_lists import ListFollower, cluster_lists_for
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore, membership_path
from index.store import Store
from query.model import Search, Term
from tests import es_node as node_fixtures
from tests.alerting import installations
from tests.index import test_alerts_live as live

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings
sink = live.sink

pytestmark = pytest.mark.elasticsearch

MD5 = "00112233445566778899aabbccddeeff"
OTHER = "ffeeddccbbaa99887766554433221100"
TO = "unit@lab.localhost"
NOW = datetime.now(UTC)


def installation(es_settings: Callable[..., Settings], prefix: str, data: Path,
                 smtp_port: int) -> Settings:
    return installations.installation(
        es_settings, prefix, data, smtp_port, matching={"reload_check_s": 0.1},
        rules=[{"name": "flagged-hit", "type": "hit", "recipients": [TO]}])


def import_and_publish(settings: Settings, path: Path, name: str) -> None:
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    lists = cluster_lists_for(settings)
    assert lists is not None
    try:
        report = import_file(path, members, store.append, list_name=name, type_name="md5",
                             category="img")
        assert report.bad == 0
        lists.publish(members, name)
    finally:
        lists.close()
        store.close()
        members.close()


async def test_a_list_imported_on_a_flags_a_document_drained_on_b(
        es_settings: Callable[..., Settings], sink: live.Sink, tmp_path: Path) -> None:
    prefix = f"hl{uuid.uuid4().hex[:8]}"
    a = installation(es_settings, prefix, tmp_path / "a", sink.port)
    b = installation(es_settings, prefix, tmp_path / "b", sink.port)
    listing = tmp_path / "lab-images.txt"
    listing.write_text(f"{MD5}\n")
    import_and_publish(a, listing, "lab-images")
    page = Page(url="http://shopxyz.onion/item/4", fetched_at=NOW, title="Lamp",
                media=[{"url": "http://shopxyz.onion/i.png", "md5": MD5}])
    async with live.pipeline(b) as store_b:
        store_b.append([page])
        await live.wait_until(lambda: sink.messages(), 60, "B's alert email", sink.log)
        await live.wait_until(lambda: not store_b.spool.backlog(), 60, "B's spool to drain")
    [msg] = sink.messages()
    assert f"md5 {MD5} in media.md5" in live.text_of(msg).replace("=\n", "")
    backend = ElasticsearchBackend(b.elasticsearch)
    await backend.open(writer=False)
    try:
        flagged = await backend.search(Search("page", Term("flagged", True)))
    finally:
        await backend.close()
    [hit] = flagged["hits"]["hits"]
    assert hit["_id"] == page.id and hit["_source"]["matches"][0]["list"] == "lab-images"
    members = MembershipStore(membership_path(b.data_dir))
    try:
        assert [e.value for e in members.lookup("md5", MD5)] == [MD5]
    finally:
        members.close()


async def test_follower_takes_changes_and_drops_removed_values(
        es_settings: Callable[..., Settings], tmp_path: Path) -> None:
    prefix = f"hl{uuid.uuid4().hex[:8]}"
    a = installation(es_settings, prefix, tmp_path / "a", 25)
    b = installation(es_settings, prefix, tmp_path / "b", 25)
    listing = tmp_path / "lab-images.txt"
    listing.write_text(f"{MD5}\n{OTHER}\n")
    import_and_publish(a, listing, "lab-images")
    lists = cluster_lists_for(b)
    assert lists is not None
    follower = ListFollower(lists, membership_path(b.data_dir))
    try:
        assert await asyncio.to_thread(follower.follow) == ["lab-images"]
        assert await asyncio.to_thread(follower.follow) == []  # nothing changed since
        # A drops a value (the list is rebuilt locally and published again).
        members = MembershipStore(membership_path(a.data_dir))
        members.remove_list("lab-images")
        members.close()
        listing.write_text(f"{OTHER}\n")
        import_and_publish(a, listing, "lab-images")
        assert await asyncio.to_thread(follower.follow) == ["lab-images"]
    finally:
        lists.close()
    members = MembershipStore(membership_path(b.data_dir))
    try:
        assert [e.value for e in members.entries_of_list("lab-images")] == [OTHER]
        assert members.lookup("md5", MD5) == []
    finally:
        members.close()


async def test_a_list_removed_on_a_is_removed_on_b(
        es_settings: Callable[..., Settings], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from heroes.cli import main

    prefix = f"hl{uuid.uuid4().hex[:8]}"
    a = installation(es_settings, prefix, tmp_path / "a", 25)
    b = installation(es_settings, prefix, tmp_path / "b", 25)
    listing = tmp_path / "lab-images.txt"
    listing.write_text(f"{MD5}\n")
    import_and_publish(a, listing, "lab-images")
    lists = cluster_lists_for(b)
    assert lists is not None
    follower = ListFollower(lists, membership_path(b.data_dir))
    config = tmp_path / "a.toml"
    config.write_text(
        "[index]\nbackend = \"elasticsearch\"\n[elasticsearch]\n"
        f"hosts = {list(a.elasticsearch.hosts)!r}\nindex_prefix = \"{prefix}\"\n".replace("'", '"'))
    try:
        assert await asyncio.to_thread(follower.follow) == ["lab-images"]
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["--config", str(config), "--data-dir", str(a.data_dir),
                                       "hashes", "remove", "--list", "lab-images"])
        assert result.exit_code == 0, result.output
        assert await asyncio.to_thread(follower.follow) == ["lab-images"]
    finally:
        lists.close()
    members = MembershipStore(membership_path(b.data_dir))
    try:
        assert members.entries_of_list("lab-images") == []
        assert members.lookup("md5", MD5) == []
    finally:
        members.close()
