"""Fixtures: a database per test (SQLite file, and the local PostgreSQL), the Bot API stand-in,
and the real Application wired to both."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from bot.config import Settings
from db.migrate import upgrade
from db.models import Base
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.harness import START, Harness, ManualClock, Person

TOKEN = "123456:TEST-token-for-the-stand-in"
POSTGRES_ADMIN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def new_postgres_database(prefix: str) -> Iterator[str]:
    """An empty database of its own on the local PostgreSQL, dropped afterwards. In CI a missing
    server fails the test; elsewhere it skips it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if _in_ci():
            pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN} is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN}: {exc}")
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own on the local PostgreSQL for this run, migrated, dropped at the end."""
    with new_postgres_database("msbot_test") as url:
        upgrade(url)
        yield url


async def _truncate(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Every database test runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    stand_in = BotApiStandIn(TOKEN)
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()


@pytest.fixture
def settings(database_url: str, api: BotApiStandIn) -> Settings:
    return Settings(
        telegram_bot_token=TOKEN,
        telegram_base_url=api.base_url,
        telegram_base_file_url=api.base_file_url,
        database_url=database_url,
        # Tests tap far faster than a person; the flood limit has tests of its own.
        flood_max_updates=0,
    )


@pytest.fixture
async def bot(settings: Settings, api: BotApiStandIn, clock: ManualClock) -> AsyncIterator[Harness]:
    app = build_application(settings, clock=clock)
    harness = Harness(api, app, clock)
    async with app:
        yield harness
    await harness.services.db_engine.dispose()


@pytest.fixture
def pat() -> Person:
    return Person(1001, "Pat")


@pytest.fixture
def sam() -> Person:
    return Person(2002, "Sam")
