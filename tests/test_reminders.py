"""Scheduled check-ins through the real Application: the sweep, the buttons on a reminder,
catch-up after downtime, nudges, and delivery failures (403, 429, 5xx)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.config import Settings
from db.models import CheckIn, Escalation, ReminderDelivery, ReminderRule, User
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.harness import Harness, ManualClock, Person, text_update
from tests.test_checkin_flow import onboard

# The harness clock starts on Monday 2 March 2026, 09:00 UTC (10:00 in Berlin).
TUESDAY_9_BERLIN = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
WEDNESDAY_9_BERLIN = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


async def with_reminder(bot: Harness, person: Person, at: str = "09:00") -> None:
    await onboard(bot, person)
    await bot.press(person, at)


async def sweep(bot: Harness) -> int:
    assert bot.services.sweeper is not None
    return await bot.services.sweeper.run_once()


def reminders_in(bot: Harness, person: Person) -> list[str]:
    return [t for t in bot.api.texts_sent(person.chat_id) if "Time for your back check-in" in t]


async def rule_of(bot: Harness) -> ReminderRule:
    async with bot.services.sessions() as session:
        rule = await session.scalar(select(ReminderRule))
    assert rule is not None
    return rule


async def deliveries(bot: Harness) -> list[ReminderDelivery]:
    async with bot.services.sessions() as session:
        rows = await session.scalars(select(ReminderDelivery).order_by(ReminderDelivery.id))
        return list(rows.all())


async def test_first_offer_sets_a_daily_reminder(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    assert "every day at 09:00" in bot.screen(pat).text
    assert "Tue 3 Mar, 09:00" in bot.screen(pat).text
    rule = await rule_of(bot)
    assert rule.next_due_at == TUESDAY_9_BERLIN == rule.fire_at
    assert rule.timezone == "Europe/Berlin"


async def test_not_now_sets_no_reminder(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.press(pat, "Not now")
    assert "no reminders" in bot.screen(pat).text
    async with bot.services.sessions() as session:
        assert await session.scalar(select(ReminderRule)) is None


async def test_reminder_is_sent_at_its_time_and_only_once(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    bot.clock.set(TUESDAY_9_BERLIN - timedelta(minutes=1))
    assert await sweep(bot) == 0
    bot.clock.set(TUESDAY_9_BERLIN)
    assert await sweep(bot) == 1
    assert await sweep(bot) == 0
    assert len(reminders_in(bot, pat)) == 1
    assert bot.screen(pat).labels() == [
        "Start now", "Later: 30 min", "1 hour", "2 hours", "Skip today",
    ]  # fmt: skip
    [delivery] = await deliveries(bot)
    assert (delivery.status, delivery.kind, delivery.due_at) == (
        "sent",
        "reminder",
        TUESDAY_9_BERLIN,
    )
    assert (await rule_of(bot)).next_due_at == WEDNESDAY_9_BERLIN


async def test_start_now_turns_the_reminder_into_the_checkin(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    reminder = bot.screen(pat)
    await bot.press(pat, "Start now")
    assert bot.screen(pat).message_id == reminder.message_id
    assert "How much does your back hurt" in bot.screen(pat).text
    [delivery] = await deliveries(bot)
    async with bot.services.sessions() as session:
        checkin = await session.scalar(select(CheckIn))
    assert checkin is not None and checkin.reminder_delivery_id == delivery.id
    await bot.press(pat, "0", "None of these", "None of these")
    assert "your check-in is saved" in bot.screen(pat).text


async def test_after_downtime_a_recent_reminder_is_sent_once_an_old_one_skipped(
    settings: Settings, api: BotApiStandIn, clock: ManualClock, pat: Person
) -> None:
    first = build_application(settings, clock=clock)
    async with first:
        bot = Harness(api, first, clock)
        await with_reminder(bot, pat)
    await bot.services.db_engine.dispose()

    # The bot was down; it comes back 90 minutes after Tuesday's reminder (inside the grace).
    clock.set(TUESDAY_9_BERLIN + timedelta(minutes=90))
    second = build_application(settings, clock=clock)
    async with second:
        bot = Harness(api, second, clock)
        assert await sweep(bot) == 1
        await sweep(bot)
        assert len(reminders_in(bot, pat)) == 1
    await bot.services.db_engine.dispose()

    # Down again, back 3 hours after Wednesday's (outside the grace): skipped, not replayed.
    clock.set(WEDNESDAY_9_BERLIN + timedelta(hours=3))
    third = build_application(settings, clock=clock)
    async with third:
        bot = Harness(api, third, clock)
        await sweep(bot)
        await sweep(bot)
        assert len(reminders_in(bot, pat)) == 1
        statuses = [(d.due_at, d.status) for d in await deliveries(bot)]
        assert statuses == [(TUESDAY_9_BERLIN, "sent"), (WEDNESDAY_9_BERLIN, "missed")]
        assert (await rule_of(bot)).next_due_at == WEDNESDAY_9_BERLIN + timedelta(days=1)
    await bot.services.db_engine.dispose()


async def test_snooze_asks_again_later_once(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    await bot.press(pat, "Later: 30 min")
    assert "ask again at 09:30" in bot.api.chat(pat.chat_id)[-1].text
    bot.clock.advance(minutes=29)
    assert await sweep(bot) == 0
    bot.clock.advance(minutes=1)
    await sweep(bot)
    await sweep(bot)
    assert len(reminders_in(bot, pat)) == 2
    assert [d.kind for d in await deliveries(bot)] == ["reminder", "snooze"]


async def test_skip_today_moves_to_the_next_day(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "⏰ Times", "13:00")  # two reminders a day now
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    await bot.press(pat, "Skip today")
    assert "Wed 4 Mar, 09:00" in bot.screen(pat).text
    bot.clock.set(TUESDAY_9_BERLIN + timedelta(hours=4))  # 13:00 Berlin
    assert await sweep(bot) == 0
    assert (await rule_of(bot)).next_due_at == WEDNESDAY_9_BERLIN


async def test_pause_until_a_date_and_resume(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "⏸ Pause", "1 week")
    assert "start again on Mon 9 Mar" in bot.screen(pat).text
    assert "Mon 9 Mar, 09:00" in bot.screen(pat).text
    bot.clock.set(TUESDAY_9_BERLIN)
    assert await sweep(bot) == 0
    await bot.send(pat, "/settings")
    assert "Paused" in bot.screen(pat).text
    await bot.press(pat, "▶️ Resume")
    assert "Wed 4 Mar, 09:00" in bot.screen(pat).text  # Tuesday's 09:00 has just passed


async def test_pause_until_a_typed_date(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "⏸ Pause", "Until a date…")
    await bot.send(pat, "31.02")
    assert "couldn't read" in bot.screen(pat).text
    await bot.send(pat, "20.3")
    assert "start again on Fri 20 Mar" in bot.screen(pat).text
    assert (await rule_of(bot)).paused_until == date(2026, 3, 20)


async def test_one_gentle_nudge_when_a_reminder_goes_unanswered(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    bot.clock.advance(hours=2, minutes=59)
    assert await sweep(bot) == 0
    bot.clock.advance(minutes=1)
    await sweep(bot)
    bot.clock.advance(hours=1)
    await sweep(bot)
    nudges = [t for t in bot.api.texts_sent(pat.chat_id) if "gentle reminder" in t]
    assert len(nudges) == 1
    assert bot.screen(pat).labels() == ["Start now", "Skip today"]


async def test_no_nudge_when_the_checkin_was_started(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    bot.clock.advance(minutes=10)
    await bot.press(pat, "Start now")
    bot.clock.advance(hours=4)
    await sweep(bot)
    assert not [t for t in bot.api.texts_sent(pat.chat_id) if "gentle reminder" in t]


async def test_nudge_can_be_turned_off(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "🔔 Nudge: on")
    assert "No nudge" in bot.screen(pat).text
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    bot.clock.advance(hours=4)
    await sweep(bot)
    assert not [t for t in bot.api.texts_sent(pat.chat_id) if "gentle reminder" in t]


async def test_a_blocked_bot_turns_that_persons_reminders_off(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await with_reminder(bot, pat)
    await with_reminder(bot, sam)
    bot.api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    async with bot.services.sessions() as session:
        rules = {
            u.telegram_id: r
            for r, u in (await session.execute(select(ReminderRule, User).join(User))).all()
        }
    blocked = [r for r in rules.values() if not r.active]
    assert len(blocked) == 1 and blocked[0].disabled_reason == "blocked"
    assert sum(len(reminders_in(bot, p)) for p in (pat, sam)) == 1
    statuses = sorted(d.status for d in await deliveries(bot))
    assert statuses == ["failed", "sent"]
    bot.clock.set(WEDNESDAY_9_BERLIN)
    await sweep(bot)
    assert sum(len(reminders_in(bot, p)) for p in (pat, sam)) == 2  # only the other one


async def test_rate_limited_reminder_still_arrives_once(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    bot.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    await sweep(bot)
    assert len(reminders_in(bot, pat)) == 1
    attempts = [c for c in bot.api.calls_of("sendMessage") if "Time for" in c.params["text"]]
    assert len(attempts) == 2  # the refused one and the one that arrived
    [delivery] = await deliveries(bot)
    assert delivery.status == "sent"


async def test_server_errors_are_retried_with_backoff_then_sent_once(
    bot: Harness, pat: Person
) -> None:
    await with_reminder(bot, pat)
    bot.api.fail("sendMessage", 502, "Bad Gateway")
    bot.api.fail("sendMessage", 502, "Bad Gateway")
    bot.clock.set(TUESDAY_9_BERLIN)
    await sweep(bot)
    [delivery] = await deliveries(bot)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert (await rule_of(bot)).fire_at == TUESDAY_9_BERLIN + timedelta(seconds=15)
    bot.clock.advance(seconds=14)
    assert await sweep(bot) == 0
    bot.clock.advance(seconds=1)
    await sweep(bot)  # fails again; next try in 30 s
    bot.clock.advance(seconds=30)
    await sweep(bot)
    assert len(reminders_in(bot, pat)) == 1
    [delivery] = await deliveries(bot)
    assert (delivery.status, delivery.attempts) == ("sent", 3)


async def test_times_days_and_zone_from_settings(bot: Harness, pat: Person) -> None:
    await with_reminder(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "⏰ Times", "Type a time")
    await bot.send(pat, "half past eight")
    assert "couldn't read" in bot.screen(pat).text
    await bot.send(pat, "8pm")
    assert "Added 20:00" in bot.screen(pat).text
    assert "Mon 2 Mar, 20:00" in bot.screen(pat).text  # later today
    await bot.send(pat, "/settings")
    await bot.press(pat, "📅 Days", "Mon–Fri", "« Back to settings")
    text = bot.screen(pat).text
    assert "09:00, 20:00" in text and "Mon, Tue, Wed, Thu, Fri" in text
    await bot.send(pat, "/timezone")
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, "New York")
    rule = await rule_of(bot)
    assert rule.timezone == "America/New_York"
    # It is 04:00 on Monday in New York: the next is 09:00 there, 14:00 UTC.
    assert rule.next_due_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


async def test_far_offset_typed_as_utc_plus_14(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone=None)
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, "UTC+14")
    assert "Etc/GMT-14" in bot.recent(pat)
    await bot.press(pat, "No", "No", "No")  # the profile questions, then the reminder offer
    await bot.press(pat, "09:00")
    # 09:00 at UTC+14 is 19:00 UTC the day before; it is 23:00 on 2 March there now.
    assert (await rule_of(bot)).next_due_at == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)


async def test_a_shared_location_sets_the_zone_and_is_not_kept(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone=None)
    await bot.press(pat, "📍 Share my location")
    assert bot.screen(pat).reply_markup is not None
    update = text_update(pat, "")
    del update["message"]["text"]
    update["message"]["location"] = {"latitude": 48.8566, "longitude": 2.3522}
    await bot.process(update)
    assert "Europe/Paris" in bot.recent(pat)
    async with bot.services.sessions() as session:
        user = await session.scalar(select(User))
    assert user is not None and user.timezone == "Europe/Paris"
    assert "48.85" not in repr(user.__dict__) and "2.352" not in repr(user.__dict__)


async def test_one_sweep_job_whatever_the_number_of_patients(
    bot: Harness, pat: Person, sam: Person
) -> None:
    """The schedule is in the database: adding patients adds no job to the scheduler."""
    assert bot.app.job_queue is not None
    before = sorted(job.name or "" for job in bot.app.job_queue.jobs())
    await with_reminder(bot, pat)
    await with_reminder(bot, sam)
    after = sorted(job.name or "" for job in bot.app.job_queue.jobs())
    assert before == after == [
        "caregiver-digests", "escalation-outbox", "housekeeping", "memory", "reminder-sweep",
        "retention",
    ]  # fmt: skip


async def test_sweep_and_answers_at_the_same_time_on_one_database(bot: Harness) -> None:
    """The sweep job and the handlers write to the same database concurrently, without errors."""
    import asyncio

    people = [Person(5000 + i, f"P{i}") for i in range(12)]
    for person in people:
        await with_reminder(bot, person)
    bot.clock.set(TUESDAY_9_BERLIN)

    async def answer(person: Person) -> None:
        await bot.send(person, "/checkin")
        await bot.press(person, "4", "Lower back", "Done ▶", "Burning", "Done ▶", "None of these")
        if person.user_id % 3:
            await bot.press(person, "None of these")  # no warning signs
        else:  # a fever: urgent advice, stored in the outbox and sent, beside the sweep
            await bot.press(person, "Fever, or hot and shivery", "Done ▶")

    await asyncio.gather(sweep(bot), *(answer(p) for p in people))
    await sweep(bot)
    for person in people:
        texts = bot.api.texts_sent(person.chat_id)
        assert not [t for t in texts if "something went wrong" in t]
        assert len(reminders_in(bot, person)) == 1
        assert len([t for t in texts if t.startswith("<b>⚠️")]) == (person.user_id % 3 == 0)
    async with bot.services.sessions() as session:
        done = (await session.scalars(select(CheckIn.status))).all()
        advice = (await session.scalars(select(Escalation))).all()
    assert done == ["complete"] * len(people)
    assert len(advice) == 4 and all(e.sent_at is not None for e in advice)
