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


def test_database_urls_get_the_async_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db:5432/bot")
    assert load_settings().database_url == "postgresql+asyncpg://u@db:5432/bot"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    assert load_settings().database_url == "sqlite+aiosqlite:///x.db"
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings()


def test_defaults_need_only_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TELEGRAM_BASE_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///data/bot.db"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"


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
