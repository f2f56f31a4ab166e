"""/privacy says what is kept and lets the person choose how long; a daily job, claimed once
across instances, deletes what is older, in every table."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, select

from db.models import Base, User
from tests.harness import Harness, Person
from tests.test_caregivers import emergency, link
from tests.test_checkin_flow import onboard
from tests.test_operations import run_job

DATED_STATE = {
    # What a person is now, not their history: kept whatever the retention.
    ("users", "created_at"), ("users", "consent_at"), ("users", "profile_at"),
    ("caregiver_links", "created_at"), ("reminder_rules", "updated_at"),
    # The reminder schedule's next instants (here old because the clock jumped four months
    # without a sweep): the schedule, not a record of anything that happened.
    ("reminder_rules", "next_due_at"), ("reminder_rules", "fire_at"),
    ("reminder_rules", "nudge_at"), ("reminder_rules", "snooze_until"),
    ("sharing_settings", "summary_at"), ("sharing_settings", "missed_alert_at"),
    # Bookkeeping without anything about a person.
    ("processed_updates", "at"), ("periodic_runs", "next_run_at"),
    ("periodic_runs", "lease_until"),
}  # fmt: skip


async def test_privacy_says_what_is_kept_and_the_choice_is_kept(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/privacy")
    explained = bot.api.chat(pat.chat_id)[-2].text
    assert "What I keep" in explained and "Who can see it" in explained
    assert "/export" in explained and "/delete" in explained
    assert bot.screen(pat).labels() == ["✅ Keep them", "Keep one year", "Keep 90 days"]
    await bot.press(pat, "Keep 90 days")
    assert bot.screen(pat).labels() == ["Keep them", "Keep one year", "✅ Keep 90 days"]
    toast = bot.api.calls_of("answerCallbackQuery")[-1].params["text"]
    assert toast == "OK: 90 days. Anything older is deleted within a day."
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.keep_days)) == 90


async def test_before_consent_privacy_explains_and_offers_no_choice(
    bot: Harness, pat: Person
) -> None:
    await bot.send(pat, "/privacy")
    assert "What I keep" in bot.screen(pat).text and bot.screen(pat).labels() == []


async def old_rows(bot: Harness, before: datetime) -> dict[tuple[str, str], int]:
    """Every dated value older than ``before``, in every table, by (table, column)."""
    found: dict[tuple[str, str], int] = {}
    async with bot.services.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if (
                    not isinstance(column.type, DateTime)
                    and "DateTime" not in type(column.type).__name__
                ):
                    continue
                rows = (await session.execute(select(column).where(column < before))).all()
                if rows:
                    found[(table.name, column.name)] = len(rows)
    return found


async def test_the_daily_job_deletes_what_is_older_than_chosen_in_every_table(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await bot.press(pat, "09:00")
    await link(bot, pat, sam)
    # Four months ago: a check-in with emergency advice (a caregiver alert, tips), a warning
    # sign typed out of the blue, a reminder, and Sam looking at the history.
    await emergency(bot, pat)
    await bot.send(pat, "I can't feel my bum at all since this morning")
    bot.clock.advance(days=1)
    await run_job(bot.app, "reminder-sweep")
    await bot.send(sam, "/patients")
    await bot.press(sam, "Pat")
    bot.clock.advance(days=120)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these")  # a recent one, to be kept
    await bot.send(pat, "/privacy")
    await bot.press(pat, "Keep 90 days")
    cutoff = bot.clock.now() - timedelta(days=90)
    before = await old_rows(bot, cutoff)
    assert {"checkins", "escalations", "caregiver_alerts", "reminder_deliveries",
            "caregiver_views", "caregiver_invites"} <= {t for t, _ in before}  # fmt: skip

    await run_job(bot.app, "retention")

    left = await old_rows(bot, cutoff)
    assert set(left) <= DATED_STATE, set(left) - DATED_STATE
    async with bot.services.sessions() as session:
        from db.models import CheckIn

        kept = (await session.scalars(select(CheckIn.started_at))).all()
    assert len(kept) == 1 and kept[0] >= cutoff
    # Sam's own data is Sam's: nothing of it was touched.
    await bot.send(sam, "/patients")
    assert bot.screen(sam).labels() == ["Pat", "Stop following Pat"]
    # Claimed once: run again at once, it does not run (the next run is a day on).
    assert not await bot.services.periodic.claim("retention")


async def test_a_run_longer_than_its_lease_does_not_clear_the_next_holder(bot: Harness) -> None:
    """Instance A's run outlives its lease; B takes the job over; A finishing must leave B's
    lease in place, so the two never run it at once again."""
    from bot.periodic import PeriodicRuns

    runs = bot.services.periodic
    other = PeriodicRuns(bot.services.sessions, bot.clock)
    first = await runs.claim("job")
    assert first is not None and await other.claim("job") is None
    bot.clock.advance(minutes=16)  # past the 15-minute lease
    second = await other.claim("job")
    assert second is not None
    await runs.release("job", timedelta(hours=1), first)  # A finishes late
    bot.clock.advance(minutes=1)
    assert await runs.claim("job") is None  # B still holds it
