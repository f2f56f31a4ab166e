"""Advice is delivered, not only sent: stored first, retried until Telegram confirms it, once.
Caregiver alerts likewise. Through the real Application and the Bot API stand-in over HTTP.

A call that times out is retried like any failure. Telegram may have performed it all the same,
and the bot cannot know: then the person gets that message twice. So with timeouts the bound is
at least once, and one extra copy for each timed-out call that took effect, never more: a copy
Telegram confirmed is never sent again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from db.models import CaregiverAlert, Escalation
from handlers.app import build_application
from handlers.context import Context
from handlers.escalations import outbox_job
from tests.botapi import BotApiStandIn, Call, client_request
from tests.harness import Harness, ManualClock, Person
from tests.test_caregivers import link
from tests.test_checkin_flow import BLADDER, DONE, escalations, onboard, up_to_warnings


@pytest.fixture
async def impatient(
    settings: Settings, api: BotApiStandIn, clock: ManualClock
) -> AsyncIterator[Harness]:
    """The real Application with a short client read timeout, so a held answer times out soon."""
    app = build_application(settings, clock=clock, request=client_request())
    harness = Harness(api, app, clock)
    async with app:
        yield harness
    await harness.services.db_engine.dispose()


def red_advice_to(bot: Harness, person: Person) -> list[str]:
    return [t for t in bot.api.texts_sent(person.chat_id) if t.startswith("<b>🚨")]


def sends_to(bot: Harness, chat_id: int, what: Callable[[str], bool]) -> list[Call]:
    """Every attempt to send a chat a message of this kind, whatever came of it."""
    return [
        c
        for c in bot.api.calls_of("sendMessage")
        if int(c.params["chat_id"]) == chat_id and what(str(c.params["text"]))
    ]


def assert_arrived(bot: Harness, chat_id: int, what: Callable[[str], bool]) -> int:
    """The message arrived; Telegram confirmed exactly one copy; any other copy the person sees
    comes from a timed-out call that took effect. Returns the number of such extra copies."""
    attempts = sends_to(bot, chat_id, what)
    confirmed = [c for c in attempts if c.ok]
    shown = [c for c in attempts if c.took_effect]
    late = [c for c in attempts if c.fault == "timeout" and c.took_effect]
    assert len(confirmed) == 1, (chat_id, attempts)
    assert len(shown) == 1 + len(late), (chat_id, attempts)
    in_chat = [m for m in bot.api.chat(chat_id) if what(m.text)]
    assert len(in_chat) == len(shown), chat_id  # what the person sees
    return len(late)


def is_red_advice(text: str) -> bool:
    return text.startswith("<b>🚨")


def is_alert(text: str) -> bool:
    return "reported a warning sign" in text


async def undelivered(bot: Harness) -> list[int]:
    """Escalations whose advice Telegram has not confirmed."""
    async with bot.services.sessions() as session:
        query = select(Escalation.id).where(Escalation.sent_at.is_(None))
        return list((await session.scalars(query)).all())


async def run_outbox(bot: Harness, rounds: int = 1) -> None:
    for _ in range(rounds):
        bot.clock.advance(seconds=30)
        await outbox_job(Context(bot.app))  # type: ignore[arg-type]


async def test_advice_that_failed_to_send_is_sent_again(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    bot.api.fail("sendMessage", 502, "Bad Gateway")
    await bot.press(pat, BLADDER, DONE)
    [escalation] = await escalations(bot)
    assert escalation.sent_at is None and red_advice_to(bot, pat) == []
    await run_outbox(bot)
    [escalation] = await escalations(bot)
    assert escalation.sent_at is not None
    assert len(red_advice_to(bot, pat)) == 1
    await run_outbox(bot, rounds=3)  # nothing more: it was confirmed
    assert len(red_advice_to(bot, pat)) == 1


async def test_a_blocked_chat_is_not_retried_forever(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    bot.api.blocked_chats.add(pat.chat_id)
    await bot.press(pat, BLADDER, DONE)
    await run_outbox(bot, rounds=3)
    [escalation] = await escalations(bot)
    assert escalation.failed == "blocked" and escalation.next_attempt_at is None
    attempts = [c for c in bot.api.calls_of("sendMessage") if "🚨" in c.params["text"]]
    assert len(attempts) == 1


@pytest.mark.parametrize(
    "kinds", [("5xx",), ("5xx", "timeout")], ids=["server-errors", "and-timeouts"]
)
async def test_with_one_call_in_ten_failing_every_red_advice_arrives(
    impatient: Harness, sam: Person, kinds: tuple[str, ...]
) -> None:
    bot = impatient
    patients = [Person(5000 + i, f"P{i}") for i in range(40)]
    for person in patients:
        await onboard(bot, person)
    for person in patients[:10]:
        await link(bot, person, Person(9000 + person.user_id, "Carer"))
    for person in patients:
        await up_to_warnings(bot, person)
    bot.api.inject_faults(
        0.1, "sendMessage", "editMessageText", "answerCallbackQuery", seed=7, kinds=kinds
    )
    for person in patients:
        await bot.press(person, BLADDER, DONE)
    failed_first = sum(1 for c in bot.api.calls_of("sendMessage") if not c.ok)
    await run_outbox(bot, rounds=12)

    assert failed_first > 0  # the network really was unlucky
    if "timeout" in kinds:
        assert any(c.fault == "timeout" for c in bot.api.calls)
    extra = sum(assert_arrived(bot, p.chat_id, is_red_advice) for p in patients)
    assert await undelivered(bot) == []
    async with bot.services.sessions() as session:
        alerts = (await session.scalars(select(CaregiverAlert))).all()
    assert len(alerts) == 10 and all(a.sent_at is not None for a in alerts)
    extra += sum(assert_arrived(bot, 9000 + p.user_id, is_alert) for p in patients[:10])
    if "timeout" not in kinds:
        assert extra == 0  # without timeouts, every advice and alert arrives exactly once


async def test_advice_too_old_to_help_is_given_up_and_logged(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    bot.api.inject_faults(1.0, "sendMessage")
    await bot.press(pat, BLADDER, DONE)
    bot.clock.advance(hours=25)
    bot.api.inject_faults(0.0)
    await run_outbox(bot)
    [escalation] = await escalations(bot)
    assert escalation.failed == "too_late" and escalation.sent_at is None
    assert red_advice_to(bot, pat) == []
    assert escalation.created_at < bot.clock.now() - timedelta(hours=24)


@pytest.mark.parametrize(
    "kinds",
    [("5xx", "429", "too_old"), ("5xx", "429", "too_old", "timeout")],
    ids=["errors", "and-timeouts"],
)
async def test_with_every_kind_of_fault_every_red_advice_still_arrives(
    impatient: Harness, sam: Person, kinds: tuple[str, ...]
) -> None:
    bot = impatient
    patients = [Person(6000 + i, f"Q{i}") for i in range(20)]
    for person in patients:
        await onboard(bot, person)
        await up_to_warnings(bot, person)
    bot.api.inject_faults(
        0.15, "sendMessage", "editMessageText", "answerCallbackQuery", seed=3, kinds=kinds
    )
    for person in patients:
        await bot.press(person, BLADDER, DONE)
    assert any(not c.ok for c in bot.api.calls)
    await run_outbox(bot, rounds=12)
    extra = sum(assert_arrived(bot, p.chat_id, is_red_advice) for p in patients)
    assert await undelivered(bot) == []
    if "timeout" not in kinds:
        assert extra == 0


@pytest.mark.parametrize("took_effect", [False, True], ids=["lost", "performed"])
async def test_advice_whose_send_timed_out_is_sent_again(
    impatient: Harness, pat: Person, sam: Person, took_effect: bool
) -> None:
    """Telegram did not answer in time. The advice is sent again: the patient sees it once if
    the timed-out call was lost, twice if Telegram performed it (the bot cannot tell which);
    the caregiver's alert likewise."""
    bot = impatient
    await onboard(bot, pat)
    await link(bot, pat, sam)
    await up_to_warnings(bot, pat)
    bot.api.time_out("sendMessage", took_effect=took_effect)  # the advice
    bot.api.time_out("sendMessage", took_effect=took_effect)  # the alert
    await bot.press(pat, BLADDER, DONE)
    [escalation] = await escalations(bot)
    assert escalation.sent_at is None
    await run_outbox(bot)
    [escalation] = await escalations(bot)
    assert escalation.sent_at is not None
    await run_outbox(bot, rounds=3)  # nothing more: it was confirmed
    copies = 2 if took_effect else 1
    assert len(red_advice_to(bot, pat)) == copies
    assert assert_arrived(bot, pat.chat_id, is_red_advice) == copies - 1
    assert assert_arrived(bot, sam.chat_id, is_alert) == copies - 1
