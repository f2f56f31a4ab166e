"""The sweep works batch by batch in a constant number of statements, whatever the batch size,
and sends a batch's reminders at once. Through the real Application and the stand-in over HTTP;
statements are counted on the engine."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.config import Settings
from db.models import ReminderDelivery
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.harness import Harness, ManualClock, add_due_reminders


async def due_now(bot: Harness, first: int, count: int) -> None:
    """``count`` people whose daily reminder fell due a minute ago (ids from ``first``); every
    other one has a nudge set, so the nudge's lookups are part of the next batch."""
    now = bot.clock.now()
    due = now - timedelta(minutes=1)
    async with bot.services.sessions.begin() as session:
        await add_due_reminders(
            session, range(first, first + count), due, now,
            chat_of=lambda i: 50_000 + i, nudge_of=lambda i: 30 if i % 2 else 0,
        )  # fmt: skip


async def sweep_counting(bot: Harness, batch: int) -> Counter[str]:
    """One sweep with this batch size; the statements it ran, by verb."""
    sweeper = bot.services.sweeper
    assert sweeper is not None
    sweeper.settings = replace(sweeper.settings, batch_size=batch)
    statements: Counter[str] = Counter()

    def count(*args: Any) -> None:
        verb = str(args[2]).lstrip().split(None, 1)[0].upper()
        if verb not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA"):
            statements[verb] += 1

    engine = bot.services.db_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert await sweeper.run_once() == batch
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return statements


async def sent(bot: Harness) -> Counter[int]:
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(ReminderDelivery.user_id).where(ReminderDelivery.status == "sent")
        )
        return Counter(rows)


async def test_a_batch_of_two_hundred_takes_the_statements_of_a_batch_of_ten(
    bot: Harness,
) -> None:
    await due_now(bot, 1, 10)
    small = await sweep_counting(bot, 10)
    await due_now(bot, 1_000, 200)
    large = await sweep_counting(bot, 200)
    assert large == small, (small, large)
    assert sum(large.values()) <= 12, large
    assert await sent(bot) == Counter({**dict.fromkeys(range(1, 11), 1),
                                       **dict.fromkeys(range(1_000, 1_200), 1)})  # fmt: skip
    for user in (*range(1, 11), *range(1_000, 1_200)):
        reminders = [t for t in bot.api.texts_sent(50_000 + user) if "Time for your" in t]
        assert len(reminders) == 1, user

    # Half of them now have a nudge due: the next batch reads it in the same few statements.
    bot.clock.advance(minutes=31)
    nudges = await sweep_counting(bot, 105)
    assert sum(nudges.values()) <= 12, nudges


async def test_the_reminders_of_a_batch_go_out_at_once(bot: Harness) -> None:
    """No answer to sendMessage is given until all fifty reminders of the batch have reached
    the stand-in: a sweep that sent them one after another would never finish."""
    await due_now(bot, 1, 50)
    arrived = 0
    everyone_asked = asyncio.Event()
    answer = bot.api._m_sendMessage

    async def held(params: dict[str, Any]) -> Any:
        nonlocal arrived
        arrived += 1
        if arrived == 50:
            everyone_asked.set()
        await asyncio.wait_for(everyone_asked.wait(), timeout=30)
        return await answer(params)

    bot.api._m_sendMessage = held  # type: ignore[method-assign]
    sweeper = bot.services.sweeper
    assert sweeper is not None
    sweeper.settings = replace(sweeper.settings, batch_size=50)
    assert await sweeper.run_once() == 50
    assert everyone_asked.is_set()
    assert await sent(bot) == Counter(dict.fromkeys(range(1, 51), 1))


async def test_a_sweep_longer_than_its_interval_is_not_doubled_and_logs_no_warning(
    settings: Settings, api: BotApiStandIn, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The job fires every 0.5 s while one batch takes over 2 s to send: the next runs skip
    their turn without a word, and every reminder goes out once."""
    app = build_application(
        settings.model_copy(update={"reminder_sweep_seconds": 0.5}), clock=clock
    )
    bot = Harness(api, app, clock)
    api.slow("sendMessage", 2.0)
    caplog.set_level(logging.WARNING)
    async with app:
        await due_now(bot, 1, 20)
        await app.start()
        try:
            await api.wait_for(lambda: len(api.calls_of("sendMessage")) >= 20, timeout=30)
            await asyncio.sleep(3.0)  # the batch's answers come, and a few more turns pass
        finally:
            await app.stop()
        assert await sent(bot) == Counter(dict.fromkeys(range(1, 21), 1))
    await bot.services.db_engine.dispose()
    assert len(api.calls_of("sendMessage")) == 20
    assert not [r for r in caplog.records if "maximum number of running" in r.getMessage()]
