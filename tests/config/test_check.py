"""``heroes config check`` parses alert-rule queries and names secrets written in the file;
``heroes config show`` masks credentials inside URLs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from config import load_settings
from config.loader import check_file, masked
from config.secrets import mask_urls
from heroes.cli import main

RULES = """\
[[alerts.rules]]
name = "lamps"
type = "keyword"
query = "title:lamp"

[[alerts.rules]]
name = "broken"
type = "keyword"
kinds = ["page"]
query = "(title:lamp"

[[alerts.rules]]
name = "nowhere"
type = "frequency"
query = "colour:blue"
"""

SECRETS = """\
[elasticsearch]
hosts = ["https://elastic:hunter2@es.example:9200", "https://es2.example:9200"]
password = "hunter2"
api_key = ""

[smtp]
host = "mail.example"
password = "s3cret"

[tor]
control_password = "letmein"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "heroes.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_names_each_rule_whose_query_does_not_parse(tmp_path: Path) -> None:
    path = write(tmp_path, RULES)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.output
    assert lines[0].startswith(f"{path}:10: alerts.rules[1].query: '(title:lamp': ")
    assert "never closed" in lines[0]
    assert lines[1].startswith(f"{path}:15: alerts.rules[2].query: 'colour:blue': ")
    assert "colour" in lines[1]
    assert "ok" not in result.stdout


def test_check_warns_of_secrets_written_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, SECRETS)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{path}:2: elasticsearch.hosts: the URL 'https://elastic:****@es.example:9200' has "
        "credentials in it; set HEROES_ELASTICSEARCH__HOSTS in the environment instead",
        f"{path}:3: elasticsearch.password: a secret is written in the file; "
        "set HEROES_ELASTICSEARCH__PASSWORD in the environment instead",
        f"{path}:8: smtp.password: a secret is written in the file; "
        "set HEROES_SMTP__PASSWORD in the environment instead",
        f"{path}:11: tor.control_password: a secret is written in the file; "
        "set HEROES_TOR__CONTROL_PASSWORD in the environment instead",
    ]
    assert "hunter2" not in result.output and "s3cret" not in result.output


def test_any_key_named_like_a_secret_is_named_even_in_a_rule(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[alerts.rules]]\nname = "r"\ntype = "hit"\nwebhook_token = "abc"\n'
        'recipients = ["ops@example.org"]\n',
    )
    problems = [str(p) for p in check_file(path).problems]
    assert f"{path}:4: alerts.rules[0].webhook_token: unknown key" in problems
    assert (
        f"{path}:4: alerts.rules[0].webhook_token: a secret is written in the file; "
        "keep it out of the file" in problems
    )


def test_a_clean_file_is_ok(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "mail.example"\npassword = ""\n' + RULES[:70])
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: ok\n"


def test_show_masks_credentials_in_urls(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path / "d"), "config", "show"],
        env={
            "HEROES_ELASTICSEARCH__HOSTS": '["https://elastic:hunter2@es.example:9200"]',
            "HEROES_ELASTICSEARCH__PASSWORD": "hunter2",
        },
    )
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output
    assert '"https://elastic:****@es.example:9200"' in result.output
    settings = load_settings(None, environ={"HEROES_ALERTS__CONSOLE_URL": "http://tok@host/"})
    assert masked(settings)["alerts"]["console_url"] == "http://****@host/"


def test_mask_urls_leaves_other_text_alone() -> None:
    assert mask_urls("redis://:pw@127.0.0.1:6379/0") == "redis://:****@127.0.0.1:6379/0"
    assert mask_urls("mail ops@example.org at http://host/a@b") == (
        "mail ops@example.org at http://host/a@b"
    )
