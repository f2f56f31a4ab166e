"""The common tap is one small transaction: the processed-update record, the check-in with its
owner, and the new state. Counted on the real stack (both databases), statement by statement,
as the database driver itself sees them: the ORM's statements and the lean tap's (db/tap.py,
which runs on the driver directly) alike."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, select

from db import tap
from db.models import CheckIn, CheckInAnswer, SnippetDelivery
from tests.harness import Harness, Person
from tests.test_checkin_flow import (
    DONE,
    advice_messages,
    answers,
    checkins,
    escalations,
    onboard,
    up_to_warnings,
)

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


def calls(seen: list[str]) -> list[str]:
    """The statements as the bot issued them, transaction control aside. SQLite's trace shows an
    executemany once per row (its values written in), so a run of the same INSERT counts once;
    asyncpg's logger shows it once."""
    issued: list[str] = []
    for statement in work(seen):
        head = statement.split(" VALUES", 1)[0]
        if issued and statement.startswith("INSERT") and issued[-1].split(" VALUES")[0] == head:
            continue
        issued.append(statement)
    return issued


LEAN_UPDATE = "UPDATE checkins SET step = "
"""How a lean tap's write starts (the ORM's reads ``step=``). The last tap writes nothing
before it, and its answers and tips only after it."""


async def closed(bot: Harness, checkin_id: int) -> dict[str, Any]:
    """What a check-in's last tap wrote: the row (but its ids and message), its answers rows,
    and the tips shown after it."""
    async with bot.services.sessions() as session:
        checkin = await session.get_one(CheckIn, checkin_id)
        rows = await session.execute(
            select(CheckInAnswer.question, CheckInAnswer.value).where(
                CheckInAnswer.checkin_id == checkin_id
            )
        )
        tips = await session.execute(
            select(
                SnippetDelivery.user_id, SnippetDelivery.snippet_id, SnippetDelivery.delivered_at
            )
            .where(SnippetDelivery.checkin_id == checkin_id)
            .order_by(SnippetDelivery.id)
        )
        return {
            "checkin": (
                checkin.status,
                checkin.step,
                checkin.state,
                checkin.pain_score,
                checkin.version,
                checkin.started_at,
                checkin.updated_at,
                checkin.finished_at,
                checkin.note,
            ),
            "answers": sorted((q, v) for q, v in rows.all()),
            "tips": [(user == checkin.user_id, tip, at) for user, tip, at in tips.all()],
        }


def completed(bot: Harness) -> float:
    value = bot.services.checkins.metrics.registry.get_sample_value(
        "msbot_checkins_completed_total"
    )
    return value or 0.0


async def test_the_last_tap_of_an_ordinary_check_in_is_lean_and_writes_what_the_orm_path_writes(
    bot: Harness, pat: Person, sam: Person, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """The last answer of a check-in that ends with no advice is one lean transaction of seven
    statements: the update's record, the check-in with its owner, the earlier check-ins with
    their symptoms, the tips shown after the last one, the check-in closed (under its version
    check), its answers rows, the tips shown now. It stores, shows, counts and logs what the ORM
    path does for the same check-in (Sam's, with the lean path off)."""
    for person in (pat, sam):
        await onboard(bot, person)
        await up_to_warnings(bot, person)  # a check-in before: history, and tips not to repeat
        await bot.press(person, "None of these")
    bot.clock.advance(days=1)
    for person in (pat, sam):
        await bot.send(person, "/checkin")
        await bot.press(person, "5", "Lower back", "Spreads to buttocks, legs or feet", DONE)
        await bot.press(person, "Burning", DONE, "Numbness or tingling", "Tiredness (fatigue)")
        await bot.press(person, DONE, "None of these")
        assert "lasted more than 24 hours" in bot.screen(person).text  # the last question

    caplog.set_level(logging.INFO, logger="bot.checkin_service")
    before = completed(bot)
    async with statements(bot) as seen:
        await bot.press(pat, "No")
    assert lean(seen), seen
    assert begins(seen) == 1 and not any(s.upper().startswith("ROLLBACK") for s in seen), seen
    assert len(calls(seen)) == 7, calls(seen)
    assert any(s.startswith(LEAN_UPDATE) for s in seen), seen
    assert completed(bot) == before + 1

    monkeypatch.setattr(bot.services.checkins, "taps", None)
    async with statements(bot) as orm:
        await bot.press(sam, "No")
    assert not lean(orm), orm
    assert completed(bot) == before + 2

    ours, theirs = (c for c in await checkins(bot) if c.status == "complete" and c.pain_score == 5)
    assert ours.user_id != theirs.user_id  # Pat's (started first), then Sam's
    lean_rows, orm_rows = await closed(bot, ours.id), await closed(bot, theirs.id)
    assert lean_rows == orm_rows
    assert lean_rows["checkin"][:2] == ("complete", "done")
    assert ("relapse", "no") in lean_rows["answers"] and ("where", "legs") in lean_rows["answers"]
    assert lean_rows["tips"] and all(mine for mine, _, _ in lean_rows["tips"])
    summary = bot.screen(pat)
    assert "your check-in is saved" in summary.text and "💡" in summary.text
    assert summary.text == bot.screen(sam).text
    assert summary.labels() == bot.screen(sam).labels() == ["📝 Add a note"]
    assert advice_messages(bot, pat) == advice_messages(bot, sam) == []
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.checkin_service"]
    assert logged == [f"checkin {ours.id} complete", f"checkin {theirs.id} complete"]


async def test_a_last_tap_whose_history_calls_for_advice_takes_the_orm_path(
    bot: Harness, pat: Person
) -> None:
    """Numbness new against the days before and reported over more than a day is "soon" advice
    that only the history rules at the end find (the symptoms of earlier check-ins, read by the
    lean tap too). That last tap's lean transaction rolls back before any write; the ORM path
    stores the check-in with the escalation, sends the advice, then the summary with tips."""
    await onboard(bot, pat)

    async def a_check_in(symptom: str, last: bool = False) -> None:
        await bot.send(pat, "/checkin")
        await bot.press(pat, "3", "Lower back", DONE, "Aching or stiff", DONE, symptom, DONE)
        await bot.press(pat, "None of these")
        if symptom == "Numbness or tingling" and not last:
            await bot.press(pat, "No")
        assert last or "your check-in is saved" in bot.screen(pat).text

    await a_check_in("Tiredness (fatigue)")  # six days before
    bot.clock.advance(days=3)
    await a_check_in("Tiredness (fatigue)")  # three days before
    bot.clock.advance(hours=46)
    await a_check_in("Numbness or tingling")  # 26 hours before: numbness is new
    bot.clock.advance(hours=16)
    await a_check_in("Numbness or tingling")  # 10 hours before
    bot.clock.advance(hours=10)
    await a_check_in("Numbness or tingling", last=True)
    assert await escalations(bot) == []
    assert "lasted more than 24 hours" in bot.screen(pat).text

    async with statements(bot) as seen:
        await bot.press(pat, "No")
    assert lean(seen), seen  # tried first,
    assert any(s.upper().startswith("ROLLBACK") for s in seen), seen  # rolled back,
    assert not any(s.startswith(LEAN_UPDATE) for s in seen), seen  # having written nothing;
    assert any(s.startswith("INSERT INTO escalations") for s in seen), seen  # the ORM path

    [escalation] = await escalations(bot)
    assert (escalation.tier, escalation.rule_ids) == ("soon", "soon.relapse_pattern")
    last = (await checkins(bot))[-1]
    assert escalation.checkin_id == last.id
    assert last.status == "complete" and last.finished_at is not None
    assert last.state["escalated"] == "soon"
    assert ("symptoms", "numbness") in await answers(bot, last.id)
    row = await closed(bot, last.id)
    assert row["tips"]  # soon advice is not urgent: tips still follow
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>ℹ️")
    texts = bot.api.texts_sent(pat.chat_id)
    assert texts.index(advice) < len(texts) - 1 and "💡" in texts[-1]
