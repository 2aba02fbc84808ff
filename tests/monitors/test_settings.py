"""The probe's defaults are a real-network deployment; the lab's config overrides them."""

from __future__ import annotations

import resource
from pathlib import Path

import libtorrent as lt
import pytest
from click.testing import CliRunner

from config import load_settings
from config.sections.probe import PUBLIC_ROUTERS, ProbeSettings
from heroes.cli import main
from monitors import lt_settings
from monitors.lt_settings import files_needed, probe_pack, raise_open_files
from monitors.watcher import watcher_settings
from tests.monitors.conftest import LAB_DHT


def _valid_in_libtorrent(pack: dict) -> None:
    # Round-trips the pack through libtorrent without building a session: nothing resolves.
    params = lt.session_params()
    params.settings = pack
    lt.read_session_params(lt.write_session_params_buf(params))


def test_default_config_is_the_real_network_one(tmp_path: Path) -> None:
    settings = load_settings(None, overrides={"data_dir": str(tmp_path)})
    cfg = settings.probe
    assert cfg.dht_bootstrap_nodes == PUBLIC_ROUTERS
    assert "router.bittorrent.com:6881" in cfg.dht_bootstrap_nodes
    assert cfg.interfaces() == "0.0.0.0:6881,[::]:6881"
    pack = watcher_settings(cfg)
    assert pack["listen_interfaces"] == "0.0.0.0:6881,[::]:6881"
    assert pack["dht_bootstrap_nodes"] == ",".join(PUBLIC_ROUTERS)
    for key in ("dht_restrict_routing_ips", "dht_restrict_search_ips",
                "dht_prefer_verified_node_ids", "dht_ignore_dark_internet", "dht_read_only"):
        assert pack[key] is True, key
    for key in ("enable_upnp", "enable_natpmp", "enable_lsd", "enable_ip_notifier"):
        assert pack[key] is False, key
    assert "outgoing_interfaces" not in pack  # wildcards: the system picks the source
    assert cfg.dht_revisit_s == 900.0 and not cfg.shard
    _valid_in_libtorrent(pack)
    meta = probe_pack(cfg, port=0, dht=False)
    assert meta["listen_interfaces"] == "0.0.0.0:0,[::]:0"
    assert meta["dht_bootstrap_nodes"] == "" and meta["enable_dht"] is False


def test_lab_config_overrides_it(tmp_path: Path) -> None:
    settings = load_settings(None, overrides={"data_dir": str(tmp_path), "probe": {
        "listen_ip": "127.0.0.50", "dht_bootstrap_nodes": ["127.0.0.1:6881"], **LAB_DHT}})
    pack = watcher_settings(settings.probe)
    assert pack["listen_interfaces"] == "127.0.0.50:0"
    assert pack["outgoing_interfaces"] == "127.0.0.50"
    assert pack["dht_bootstrap_nodes"] == "127.0.0.1:6881"
    assert not any(pack[k] for k in LAB_DHT)
    assert settings.probe.own_ips() == {"127.0.0.50"}


def test_ipv6_listen_interfaces() -> None:
    cfg = ProbeSettings(listen_ip="::1", listen_port=7000)
    assert cfg.interfaces() == "[::1]:7000"
    cfg = ProbeSettings(listen_interfaces="127.0.0.5:7000, [::1]:7000")
    assert cfg.interfaces() == "127.0.0.5:7000,[::1]:7000"
    assert cfg.interfaces(0) == "127.0.0.5:0,[::1]:0"
    assert cfg.own_ips() == {"127.0.0.5", "::1"}
    _valid_in_libtorrent(probe_pack(cfg, dht=True))
    ses = lt.session(probe_pack(ProbeSettings(listen_ip="::1", dht=False,
                                              dht_bootstrap_nodes=[]), dht=False), 0)
    assert ses.listen_port() > 0  # "::1" used to become "::1:0", an invalid port


@pytest.mark.parametrize(("key", "value", "quoted"), [
    ("dht_bootstrap_nodes", ["router.example:6881", "no-port-here"], "no-port-here"),
    ("dht_bootstrap_nodes", ["127.0.0.9:70000"], "127.0.0.9:70000"),
    ("dht_bootstrap_nodes", ["::1:6881"], "::1:6881"),
    ("dht_bootstrap_nodes", ["bad host!:6881"], "bad host!:6881"),
    ("listen_interfaces", "0.0.0.0:6881,[::1:6881", "[::1:6881"),
    ("listen_interfaces", "0.0.0.0:abc", "0.0.0.0:abc"),
    ("listen_interfaces", "0.0.0.0:6881,", "0.0.0.0:6881,"),
    ("listen_interfaces", "0.0.0.0:6881x", "0.0.0.0:6881x"),
    ("listen_ip", "127.0.0.300", "127.0.0.300"),
    ("shard", "3/2", "3/2"),
    ("shard", "0/3", "0/3"),
    ("shard", "one of three", "one of three"),
])
def test_config_errors_name_the_key_and_quote_the_value(
        tmp_path: Path, key: str, value: object, quoted: str) -> None:
    bad = tmp_path / "bad.toml"
    rendered = (f'"{value}"' if isinstance(value, str)
                else "[" + ", ".join(f'"{v}"' for v in value) + "]")  # type: ignore[attr-defined]
    bad.write_text(f"[probe]\n{key} = {rendered}\n")
    result = CliRunner().invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{bad}:2: probe.{key}"), result.output
    assert repr(quoted) in result.output, result.output
    assert "Traceback" not in result.output


def test_open_file_limit_is_raised_for_the_connections(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        needed, limit = raise_open_files(4000)
        assert needed == files_needed(4000) > 4000
        assert limit == min(needed, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit
        # A hard limit too low: the warning names both numbers.
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

        def refuse(*_: object) -> None:
            raise ValueError("not allowed")

        monkeypatch.setattr(resource, "setrlimit", refuse)
        with caplog.at_level("WARNING", logger=lt_settings.__name__):
            raise_open_files(4000)
        text = caplog.text
        assert "1024" in text and str(files_needed(4000)) in text
    finally:
        monkeypatch.undo()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
