"""The Alembic migrations and the models describe the same schema, on SQLite and PostgreSQL, and
stored data is carried over when the schema changes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from db.migrate import HEAD, alembic_config, at_head, upgrade
from db.models import Base
from db.session import create_engine
from tests.conftest import new_postgres_database


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await engine.dispose()
    assert diff == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet, of its own (the shared test databases are at head)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    with new_postgres_database("msbot_mig") as url:
        yield url


async def _sql(url: str, *statements: str, **values: Any) -> list[Any]:
    """Run ``statements`` in one transaction; the rows of the last one."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = None
            for statement in statements:
                result = await connection.execute(text(statement), values)
            return list(result.all()) if result is not None and result.returns_rows else []
    finally:
        await engine.dispose()


async def test_stored_tiers_are_carried_over_to_the_new_scale_and_back(
    empty_database: str,
) -> None:
    """0004 maps red advice ("go now") to emergency and amber ("contact the MS team soon") to
    soon; going back maps emergency and urgent to red, soon to amber, and drops the advice
    that belongs to no check-in (the old schema cannot hold it)."""
    url = empty_database
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    await asyncio.to_thread(upgrade, url, "0003")
    await _sql(
        url,
        "INSERT INTO users (id, telegram_id, chat_id, language, created_at, consent_at) "
        "VALUES (1, 1001, 1001, 'en', :at, :at)",
        "INSERT INTO checkins (id, user_id, started_at, updated_at, status, step, state, version)"
        " VALUES (1, 1, :at, :at, 'complete', 'done', '{}', 1),"
        " (2, 1, :at, :at, 'complete', 'done', '{}', 1)",
        "INSERT INTO escalations (id, user_id, checkin_id, tier, rule_ids, created_at, sent_at) "
        "VALUES (1, 1, 1, 'red', 'red.bladder_loss', :at, :at),"
        " (2, 1, 2, 'amber', 'amber.unsure', :at, :at)",
        at=at,
    )
    await asyncio.to_thread(upgrade, url)
    rows = await _sql(url, "SELECT id, tier, findings, attempts FROM escalations ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "emergency", "", 0), (2, "soon", "", 0)]

    await _sql(
        url,
        "INSERT INTO escalations (id, user_id, checkin_id, tier, rule_ids, findings, created_at,"
        " attempts) VALUES (3, 1, 1, 'urgent', 'urgent.fever', 'fever', :at, 0),"
        " (4, 1, NULL, 'emergency', 'emergency.cauda_equina', 'saddle', :at, 0)",
        at=at,
    )
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0003")
    rows = await _sql(url, "SELECT id, tier FROM escalations ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "red"), (2, "amber"), (3, "red")]
    # And up again: what the old schema called red is emergency (urgent cannot be told apart).
    await asyncio.to_thread(upgrade, url)
    rows = await _sql(url, "SELECT id, tier FROM escalations ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "emergency"), (2, "soon"), (3, "emergency")]


async def test_three_instances_starting_together_migrate_once(empty_database: str) -> None:
    """Three `python -m bot migrate` at the same moment on an empty database: all succeed, and
    the schema is at head once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env["DATABASE_URL"] = empty_database
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "migrate", env=env, cwd=Path(__file__).parents[1],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]  # fmt: skip
    outputs = [await asyncio.wait_for(p.communicate(), 120) for p in processes]
    for process, (out, _) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out.decode()[-3000:]
    [(version,)] = await _sql(empty_database, "SELECT version_num FROM alembic_version")
    head = ScriptDirectory.from_config(alembic_config(empty_database)).get_current_head()
    assert version == head


def test_the_head_the_bot_checks_at_start_up_is_alembics_head(tmp_path: Path) -> None:
    # A new migration must move db.migrate.HEAD too, or every start-up would run Alembic.
    url = f"sqlite+aiosqlite:///{tmp_path / 'any.db'}"
    assert ScriptDirectory.from_config(alembic_config(url)).get_current_head() == HEAD


async def test_start_up_knows_a_database_at_head_without_alembic(empty_database: str) -> None:
    assert not await asyncio.to_thread(at_head, empty_database)  # nothing there yet
    await asyncio.to_thread(upgrade, empty_database, "0009")
    assert not await asyncio.to_thread(at_head, empty_database)  # one migration behind
    await asyncio.to_thread(upgrade, empty_database)
    assert await asyncio.to_thread(at_head, empty_database)


def test_an_unreachable_database_is_left_to_alembic_to_report() -> None:
    assert not at_head("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    assert not at_head("sqlite+aiosqlite:////nonexistent/folder/bot.db")
