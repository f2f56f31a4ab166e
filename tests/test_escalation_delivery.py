"""Advice is delivered, not only sent: stored first, retried until Telegram confirms it, once.
Caregiver alerts likewise. Through the real Application and the Bot API stand-in over HTTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.models import CaregiverAlert, Escalation
from handlers.context import Context
from handlers.escalations import outbox_job
from tests.harness import Harness, Person
from tests.test_caregivers import link
from tests.test_checkin_flow import BLADDER, DONE, escalations, onboard, up_to_warnings


def red_advice_to(bot: Harness, person: Person) -> list[str]:
    return [t for t in bot.api.texts_sent(person.chat_id) if t.startswith("<b>🚨")]


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


async def test_with_one_call_in_ten_failing_every_red_advice_arrives_once(
    bot: Harness, sam: Person
) -> None:
    patients = [Person(5000 + i, f"P{i}") for i in range(40)]
    for person in patients:
        await onboard(bot, person)
    for person in patients[:10]:
        await link(bot, person, Person(9000 + person.user_id, "Carer"))
    for person in patients:
        await up_to_warnings(bot, person)
    bot.api.inject_faults(0.1, "sendMessage", "editMessageText", "answerCallbackQuery", seed=7)
    for person in patients:
        await bot.press(person, BLADDER, DONE)
    failed_first = sum(1 for c in bot.api.calls_of("sendMessage") if not c.ok)
    await run_outbox(bot, rounds=12)

    assert failed_first > 0  # the network really was unlucky
    for person in patients:
        assert len(red_advice_to(bot, person)) == 1, person
    assert await undelivered(bot) == []
    async with bot.services.sessions() as session:
        alerts = (await session.scalars(select(CaregiverAlert))).all()
    assert len(alerts) == 10 and all(a.sent_at is not None for a in alerts)
    for person in patients[:10]:
        carer = 9000 + person.user_id
        got = [t for t in bot.api.texts_sent(carer) if "reported a warning sign" in t]
        assert len(got) == 1, carer


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


async def test_with_every_kind_of_fault_every_red_advice_still_arrives_once(
    bot: Harness, sam: Person
) -> None:
    patients = [Person(6000 + i, f"Q{i}") for i in range(20)]
    for person in patients:
        await onboard(bot, person)
        await up_to_warnings(bot, person)
    bot.api.inject_faults(
        0.15, "sendMessage", "editMessageText", "answerCallbackQuery",
        seed=3, kinds=("5xx", "429", "too_old"),
    )  # fmt: skip
    for person in patients:
        await bot.press(person, BLADDER, DONE)
    assert any(not c.ok for c in bot.api.calls)
    await run_outbox(bot, rounds=12)
    for person in patients:
        assert len(red_advice_to(bot, person)) == 1, person
    assert await undelivered(bot) == []
