"""Settings and the command line, as an operator meets them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).parents[1]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        cwd=cwd,
        check=False,
    )


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "migrate" in result.stdout


def test_run_without_a_token_says_what_to_set_in_one_line(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was created


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "1:x", "LOG_LEVEL": "LOUD"}
    result = run_cli("run", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "LOG_LEVEL" in result.stderr and "Traceback" not in result.stderr


def test_migrate_creates_the_default_sqlite_file(tmp_path: Path) -> None:
    result = run_cli("migrate", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "bot.db").is_file()


def test_token_is_a_secret() -> None:
    settings = Settings(telegram_bot_token="123:secret-value")
    assert "secret-value" not in repr(settings)
    assert settings.token() == "123:secret-value"


@pytest.mark.parametrize("token", ["", "no-colon", "123: spaced"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        Settings(telegram_bot_token=token).token()


def test_database_urls_get_the_async_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db:5432/bot")
    assert load_settings().database_url == "postgresql+asyncpg://u@db:5432/bot"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")  # relative: made absolute
    assert load_settings().database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/x.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/bot/x.db")
    assert load_settings().database_url == "sqlite+aiosqlite:////srv/bot/x.db"
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings()


def test_defaults_need_only_a_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "TELEGRAM_BASE_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    # The default SQLite file is ./data/bot.db where the bot starts, made absolute at once.
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/bot.db"
    assert settings.sqlite_file == tmp_path.resolve() / "data" / "bot.db"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.webhook_url is None and settings.health_port == 8080


def test_an_unreachable_bot_api_is_a_one_line_error(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot",  # nothing listens on the discard port
    }
    result = run_cli("run", cwd=tmp_path, env=env)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Could not reach the Bot API at http://127.0.0.1:9/bot")
    assert "Traceback" not in result.stderr
    assert "123:abc" not in result.stderr + result.stdout


async def test_a_refused_token_is_a_one_line_error(tmp_path: Path) -> None:
    import asyncio

    from tests.botapi import BotApiStandIn

    api = BotApiStandIn("999:the-real-token")
    await api.start()
    try:
        env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:wrong-token",
               "TELEGRAM_BASE_URL": api.base_url}  # fmt: skip
        result = await asyncio.to_thread(run_cli, "run", env=env, cwd=tmp_path)
    finally:
        await api.stop()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: Telegram refused")
    assert "Traceback" not in result.stderr and "wrong-token" not in result.stderr


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The operator's line: exit code 2, the last line of stderr, no traceback anywhere."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    return last


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc",
           "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/test"}  # fmt: skip
    line = one_line_error(run_cli("run", cwd=tmp_path, env=env))
    assert "Could not connect to PostgreSQL at 127.0.0.1:9" in line and "DATABASE_URL" in line


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_one_line(tmp_path: Path) -> None:
    missing = "postgresql://postgres@127.0.0.1:5432/msbot_no_such_database"
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc", "DATABASE_URL": missing}
    line = one_line_error(run_cli("migrate", cwd=tmp_path, env=env))
    assert "'msbot_no_such_database' does not exist" in line and "createdb" in line


def test_an_unknown_postgresql_user_is_one_line(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc",
           "DATABASE_URL": "postgresql://msbot_nobody@127.0.0.1:5432/test"}  # fmt: skip
    line = one_line_error(run_cli("run", cwd=tmp_path, env=env))
    assert "refused the user 'msbot_nobody'" in line


def test_a_data_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc"}
    line = one_line_error(run_cli("run", cwd=tmp_path, env=env))
    assert f"{tmp_path.resolve()}/data" in line and "DATABASE_URL" in line


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not a database " * 100)
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc",
           "DATABASE_URL": f"sqlite:///{tmp_path}/notes.db"}  # fmt: skip
    line = one_line_error(run_cli("migrate", cwd=tmp_path, env=env))
    assert "Cannot open or write the SQLite database" in line


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WEBHOOK_URL": "http://bot.example.org/telegram"}, "WEBHOOK_URL"),
        ({"WEBHOOK_PORT": "99999"}, "WEBHOOK_PORT"),
        ({"WEBHOOK_SECRET_TOKEN": "has spaces"}, "WEBHOOK_SECRET_TOKEN"),
        ({"HEALTH_PORT": "-1"}, "HEALTH_PORT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_each_bad_operations_setting_is_named(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc", **env}
    line = one_line_error(run_cli("run", cwd=tmp_path, env=env))
    assert named in line
    assert not (tmp_path / "data").exists()


def test_webhook_without_its_url_is_one_line(tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc"}
    line = one_line_error(run_cli("run", "--webhook", cwd=tmp_path, env=env))
    assert "WEBHOOK_URL" in line


async def test_a_health_port_in_use_is_one_line(tmp_path: Path) -> None:
    import asyncio
    import socket

    from tests.botapi import BotApiStandIn

    api = BotApiStandIn("123:abc")
    await api.start()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        env = {"PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "123:abc",
               "TELEGRAM_BASE_URL": api.base_url, "HEALTH_PORT": port}  # fmt: skip
        result = await asyncio.to_thread(run_cli, "run", env=env, cwd=tmp_path)
    finally:
        taken.close()
        await api.stop()
    line = one_line_error(result)
    assert "HEALTH_PORT" in line


def test_the_sqlite_file_is_named_at_start_up_and_logs_can_be_json(tmp_path: Path) -> None:
    import json

    env = {"PYTHONPATH": str(ROOT), "LOG_FORMAT": "json"}
    result = run_cli("migrate", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.strip().splitlines()]
    messages = [e["message"] for e in entries]
    assert f"database: SQLite file {tmp_path.resolve()}/data/bot.db" in messages
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
