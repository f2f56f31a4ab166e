"""The common tap is one small transaction: the processed-update record, the check-in with its
owner, and the new state. Counted on the real stack (both databases), statement by statement,
as the database driver itself sees them: the ORM's statements and the lean tap's (db/tap.py,
which runs on the driver directly) alike."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select

from db import tap
from db.models import CheckIn, CheckInAnswer
from tests.harness import Harness, Person
from tests.test_checkin_flow import DONE, onboard, up_to_warnings

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@asynccontextmanager
async def statements(bot: Harness) -> AsyncIterator[list[str]]:
    """Every SQL statement run while the block runs: on SQLite through sqlite3's trace callback
    (the bot's one connection: it sees every statement, the ORM's and the lean tap's); on
    PostgreSQL through asyncpg's query logger on every connection taken from the pool meanwhile
    (the lean tap's statements) and SQLAlchemy's cursor events (the ORM's, which asyncpg runs
    as prepared statements its logger does not see)."""
    seen: list[str] = []
    engine = bot.services.db_engine

    def on_statement(statement: str) -> None:
        seen.append(statement.strip())

    if engine.dialect.name == "sqlite":
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await driver.set_trace_callback(on_statement)
        try:
            yield seen
        finally:
            await driver.set_trace_callback(None)
        return

    def on_query(record: Any) -> None:
        on_statement(record.query)

    watched: list[Any] = []

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if driver not in watched:
            driver.add_query_logger(on_query)
            watched.append(driver)

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        on_statement(statement)

    event.listen(engine.sync_engine, "checkout", on_checkout)
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
        await asyncio.sleep(0.05)  # asyncpg calls its loggers soon after each query
    finally:
        event.remove(engine.sync_engine, "checkout", on_checkout)
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
        for driver in watched:
            driver.remove_query_logger(on_query)


def work(seen: list[str]) -> list[str]:
    return [s for s in seen if not s.upper().startswith(TRANSACTION_CONTROL)]


def begins(seen: list[str]) -> int:
    return sum(1 for s in seen if s.upper().startswith("BEGIN"))


def lean(seen: list[str]) -> bool:
    """The tap took the lean path (db/tap.py's own select of the check-in with its owner)."""
    return any("FROM checkins AS c JOIN users AS u" in s for s in seen)


async def test_a_tap_mid_check_in_is_one_transaction_of_at_most_three_statements(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    for label in ("4", "Lower back", DONE):  # a score, a tick, a step on
        async with statements(bot) as seen:
            await bot.press(pat, label)
        assert len(work(seen)) <= 3, work(seen)
        assert begins(seen) == 1, seen  # one transaction
        assert lean(seen), seen
    assert "feel" in bot.screen(pat).text.lower()


async def answer_rows(bot: Harness) -> set[tuple[str, str]]:
    async with bot.services.sessions() as session:
        rows = await session.execute(select(CheckInAnswer.question, CheckInAnswer.value))
        return {(q, v) for q, v in rows.all()}


async def test_answers_reach_the_record_when_the_check_in_closes(bot: Harness, pat: Person) -> None:
    """While a check-in is open its state holds the answers; they are written to the answers
    table when it ends, finished or left too long, and history reads them either way."""
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    assert await answer_rows(bot) == set()
    await bot.press(pat, "None of these")
    assert {("where", "lower"), ("symptoms", "fatigue")} <= await answer_rows(bot)

    await bot.send(pat, "/checkin")
    await bot.press(pat, "7", "Neck or upper back", DONE)
    bot.clock.advance(minutes=bot.services.settings.checkin_timeout_minutes + 1)
    assert await bot.services.checkins.close_stale() == 1
    assert ("where", "upper") in await answer_rows(bot)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_tap_after_the_server_dropped_the_connections_is_applied_on_fresh_ones(
    bot: Harness, pat: Person, database_url: str
) -> None:
    """No pre-ping: a connection the server dropped (a restart, a failover) fails the tap's
    first statement; the tap is then applied once on a fresh connection, and the patient sees
    nothing of it."""
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4")
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert dropped >= 1  # the bot's pooled connections
    before = len(bot.api.chat(pat.chat_id))
    await bot.press(pat, "Lower back", DONE)
    assert "feel" in bot.screen(pat).text.lower()  # the next question, edited in place
    assert len(bot.api.chat(pat.chat_id)) == before  # no error message, nothing else sent
    async with bot.services.sessions() as session:
        checkin = (await session.execute(select(CheckIn))).scalar_one()
    assert checkin.state["answers"]["where"] == ["lower"]
    assert checkin.version == 3  # pain, the tick, Done: each applied once


async def outside_view(bot: Harness) -> tuple[int, str]:
    """(version, step) of the only check-in, read on a connection of its own (not the bot's
    pool): what is committed."""
    url = bot.services.settings.database_url
    if url.startswith("sqlite"):
        reader = sqlite3.connect(url.split("///", 1)[1])
        try:
            version, step = reader.execute("SELECT version, step FROM checkins").fetchone()
        finally:
            reader.close()
        return int(version), str(step)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        row = await connection.fetchrow("SELECT version, step FROM checkins")
        open_ones = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
    finally:
        await connection.close()
    assert open_ones == 0  # no connection was left inside a transaction
    return int(row["version"]), str(row["step"])


@pytest.mark.parametrize("where", ["begin", "commit"])
async def test_a_tap_cancelled_mid_transaction_stays_cancelled_and_leaves_nothing_open(
    bot: Harness, pat: Person, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancellation (shutdown, a timeout) right after BEGIN or just before COMMIT reaches the
    caller as it is: the tap is not stored, not retried another way, and the connection is not
    pooled inside a transaction; the next tap is stored as usual."""
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    async with bot.services.sessions() as session:
        checkin = (await session.execute(select(CheckIn))).scalar_one()
    before = await outside_view(bot)
    driver = tap._Sqlite if bot.services.db_engine.dialect.name == "sqlite" else tap._Postgres
    original = getattr(driver, where)

    async def cancelled(self: Any) -> None:
        if where == "begin":
            await original(self)  # BEGIN reached the server
        raise asyncio.CancelledError

    monkeypatch.setattr(driver, where, cancelled)
    with pytest.raises(asyncio.CancelledError):
        await bot.services.checkins.answer(pat.user_id, checkin.id, "pain", "4")
    monkeypatch.setattr(driver, where, original)
    assert await outside_view(bot) == before  # nothing of it stored
    await bot.press(pat, "4")
    assert "Where" in bot.screen(pat).text
    await bot.press(pat, "Lower back", DONE)
    assert await outside_view(bot) == (before[0] + 3, "feel")  # committed, seen from outside
