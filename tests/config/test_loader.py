"""Settings load with the documented precedence and report problems as FILE:LINE: key: what."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from config import ConfigError, load_settings
from config.render import DEFAULTS_FILE, render_defaults
from heroes.cli import main


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "heroes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_file_is_current_and_valid() -> None:
    assert DEFAULTS_FILE.read_text() == render_defaults(), (
        "run: heroes config defaults > config/defaults.toml"
    )
    load_settings(DEFAULTS_FILE, environ={})


def test_every_option_is_documented() -> None:
    from config.schema import Settings

    def walk(model: type) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            sub = field.annotation
            if isinstance(sub, type) and hasattr(sub, "model_fields"):
                walk(sub)

    walk(Settings)


def test_precedence_file_env_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[crawler]\nconcurrency = 8\nmax_depth = 3\n[smtp]\nhost = 'mail.test'\n"
    )
    env = {"HEROES_CRAWLER__CONCURRENCY": "12", "HEROES_SMTP__PASSWORD": "s3cret"}
    settings = load_settings(path, environ=env, overrides={"crawler": {"max_depth": 4}})
    assert settings.crawler.concurrency == 12
    assert settings.crawler.max_depth == 4
    assert settings.smtp.host == "mail.test"
    assert settings.smtp.password.get_secret_value() == "s3cret"


def test_problems_name_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\n".join(
            [
                "data_dir = 'x'",
                "[index]",
                "backend = 'sqlite'",
                "bogus = 1",
                "[crawler]",
                "concurrency = 'many'",
                "[[alerts.rules]]",
                "name = 'a'",
                "type = 'hit'",
                "[[alerts.rules]]",
                "name = 'b'",
                "type = 'sometimes'",
            ]
        )
        + "\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    lines = [str(p) for p in caught.value.problems]
    assert (
        f"{path}:3: index.backend: Input should be 'tantivy' or 'elasticsearch' (got 'sqlite')"
        in lines
    )
    assert f"{path}:4: index.bogus: unknown key" in lines
    assert any(
        line.startswith(f"{path}:6: crawler.concurrency:") and "'many'" in line for line in lines
    )
    assert any(line.startswith(f"{path}:12: alerts.rules[1].type:") for line in lines)
    assert len(lines) == 4


def test_syntax_error_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "[index\nbackend = 1\n"), environ={})
    assert str(caught.value.problems[0]).startswith(f"{tmp_path / 'heroes.toml'}:1: (syntax):")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "missing.toml", environ={})
    assert "cannot read" in str(caught.value)


def test_config_check_and_show_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    good = write(tmp_path, "[crawler]\nconcurrency = 4\n")
    result = runner.invoke(main, ["config", "check", str(good)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[probe]\nlisten_port = 70000\n")
    result = runner.invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{bad}:2: probe.listen_port:")
    result = runner.invoke(
        main,
        ["--data-dir", str(tmp_path / "d"), "config", "show"],
        env={"HEROES_SMTP__PASSWORD": "hunter2"},
    )
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert '"password": "**********"' in result.output
