"""The common tap is one small transaction: the processed-update record, the check-in with its
owner, and the new state. Counted on the real stack (both databases), statement by statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from db.models import CheckInAnswer
from tests.harness import Harness, Person
from tests.test_checkin_flow import DONE, onboard, up_to_warnings

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def statements(bot: Harness) -> Iterator[list[str]]:
    """Every SQL statement the bot sends while the block runs (transaction control apart)."""
    seen: list[str] = []
    engine = bot.services.db_engine.sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.strip())

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def work(seen: list[str]) -> list[str]:
    return [s for s in seen if not s.upper().startswith(TRANSACTION_CONTROL)]


def begins(seen: list[str]) -> int:
    return sum(1 for s in seen if s.upper().startswith("BEGIN"))


async def test_a_tap_mid_check_in_is_one_transaction_of_at_most_three_statements(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    with statements(bot) as seen:
        await bot.press(pat, "4")  # the pain score
    assert "Where" in bot.screen(pat).text
    assert len(work(seen)) <= 3, work(seen)
    with statements(bot) as seen:
        await bot.press(pat, "Lower back")  # a tick on a multi-select question
    assert len(work(seen)) <= 3, work(seen)
    with statements(bot) as seen:
        await bot.press(pat, DONE)
    assert len(work(seen)) <= 3, work(seen)
    if bot.services.settings.database_url.startswith("sqlite"):
        assert begins(seen) == 1  # SQLite's BEGIN IMMEDIATE is visible; one transaction


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
