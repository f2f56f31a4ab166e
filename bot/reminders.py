"""Reminder settings and the buttons on a reminder: times, weekdays, pause, nudge, snooze, skip.

A rule's next regular instant is ``next_due_at``; a snooze and the one nudge are instants of their
own; ``fire_at`` is the earliest of the three and is what the sweep looks at (bot/sweep.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import schedule
from bot.clock import Clock
from db.models import ReminderDelivery, ReminderRule, User
from db.repo import reminders as repo
from db.repo import users as user_repo

QUICK_TIMES = (time(9, 0), time(13, 0), time(20, 0))
SNOOZE_MINUTES = (30, 60, 120)
PAUSE_DAYS = (1, 3, 7, 14)


@dataclass(frozen=True)
class ReminderView:
    """What the settings screen shows."""

    times: tuple[time, ...]
    weekdays: frozenset[int]
    zone: str
    active: bool
    paused_until: date | None
    next_local: datetime | None
    nudge_minutes: int
    disabled_reason: str | None
    language: str
    snooze_local: datetime | None = None


def refire(rule: ReminderRule) -> None:
    """Set ``fire_at`` to the earliest pending instant, or None when nothing is due."""
    pending = [t for t in (rule.next_due_at, rule.snooze_until, rule.nudge_at) if t is not None]
    rule.fire_at = min(pending) if pending and rule.active else None


def reschedule(rule: ReminderRule, after: datetime) -> None:
    """Compute the next regular instant after ``after`` from the rule's times, days and zone."""
    times = schedule.parse_stored_times(rule.times)
    weekdays = schedule.weekdays_of(rule.weekdays)
    if not rule.active or not times or not weekdays:
        rule.next_due_at = None
    else:
        spec = schedule.Rule(times, weekdays, rule.timezone, rule.paused_until)
        rule.next_due_at = schedule.next_due(spec, after)
    refire(rule)


def _view(rule: ReminderRule, user: User, now: datetime) -> ReminderView:
    zone = ZoneInfo(rule.timezone)
    today = now.astimezone(zone).date()
    paused = rule.paused_until if rule.paused_until and rule.paused_until > today else None
    return ReminderView(
        times=schedule.parse_stored_times(rule.times),
        weekdays=schedule.weekdays_of(rule.weekdays),
        zone=rule.timezone,
        active=rule.active,
        paused_until=paused,
        next_local=rule.next_due_at.astimezone(zone) if rule.next_due_at else None,
        nudge_minutes=rule.nudge_minutes,
        disabled_reason=rule.disabled_reason,
        language=user.language,
        snooze_local=rule.snooze_until.astimezone(zone) if rule.snooze_until else None,
    )


async def apply_zone(session: AsyncSession, user: User, zone: str, now: datetime) -> None:
    """A new time zone moves the reminders with it (same local times, new instants)."""
    rule = await repo.rule_of(session, user.id)
    if rule is not None:
        rule.timezone = zone
        rule.updated_at = now
        reschedule(rule, now)


Mutation = Callable[[ReminderRule, datetime], None]


class ReminderService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *, nudge_minutes: int
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.nudge_minutes = nudge_minutes

    async def view(self, telegram_id: int) -> ReminderView | None:
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None:
                return None
            rule = await repo.rule_of(session, user.id)
            return _view(rule, user, self.clock.now()) if rule else None

    async def _change(self, telegram_id: int, mutate: Mutation) -> ReminderView | None:
        """Apply ``mutate`` to the user's rule (created on first use) and reschedule it.
        None when the user has not agreed yet or has no time zone."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None or user.timezone is None:
                return None
            rule = await repo.rule_of(session, user.id)
            if rule is None:
                rule = ReminderRule(
                    user_id=user.id,
                    times=[],
                    weekdays=schedule.weekday_mask(schedule.ALL_DAYS),
                    timezone=user.timezone,
                    active=True,
                    nudge_minutes=self.nudge_minutes,
                    updated_at=now,
                )
                session.add(rule)
            mutate(rule, now)
            rule.updated_at = now
            reschedule(rule, now)
            await session.flush()
            return _view(rule, user, now)

    async def set_times(self, telegram_id: int, times: Iterable[time]) -> ReminderView | None:
        chosen = sorted(set(times))[: schedule.MAX_TIMES]

        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.times = [t.strftime("%H:%M") for t in chosen]
            rule.active = True
            rule.disabled_reason = None

        return await self._change(telegram_id, mutate)

    async def toggle_time(self, telegram_id: int, at: time) -> ReminderView | None:
        current = await self.view(telegram_id)
        times = set(current.times) if current else set()
        times ^= {at}
        return await self.set_times(telegram_id, times)

    async def add_time(self, telegram_id: int, at: time) -> ReminderView | None:
        current = await self.view(telegram_id)
        times = set(current.times) if current else set()
        return await self.set_times(telegram_id, times | {at})

    async def set_weekdays(self, telegram_id: int, days: Iterable[int]) -> ReminderView | None:
        mask = schedule.weekday_mask(days)

        def mutate(rule: ReminderRule, now: datetime) -> None:
            if mask:  # never no days at all: that is what "reminders off" is for
                rule.weekdays = mask

        return await self._change(telegram_id, mutate)

    async def toggle_weekday(self, telegram_id: int, day: int) -> ReminderView | None:
        current = await self.view(telegram_id)
        days = set(current.weekdays) if current else set(schedule.ALL_DAYS)
        days ^= {day}
        return await self.set_weekdays(telegram_id, days)

    async def pause(self, telegram_id: int, until: date) -> ReminderView | None:
        """No reminders until ``until`` (local date): the first comes on that day."""

        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.paused_until = until
            rule.snooze_until = None
            rule.nudge_at = None

        return await self._change(telegram_id, mutate)

    async def resume(self, telegram_id: int) -> ReminderView | None:
        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.paused_until = None

        return await self._change(telegram_id, mutate)

    async def set_nudge(self, telegram_id: int, on: bool) -> ReminderView | None:
        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.nudge_minutes = (self.nudge_minutes or 180) if on else 0
            if not on:
                rule.nudge_at = None

        return await self._change(telegram_id, mutate)

    async def set_active(self, telegram_id: int, active: bool) -> ReminderView | None:
        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.active = active
            rule.disabled_reason = None
            rule.snooze_until = None
            rule.nudge_at = None

        return await self._change(telegram_id, mutate)

    async def _own_delivery(
        self, session: AsyncSession, telegram_id: int, delivery_id: int
    ) -> tuple[ReminderDelivery, ReminderRule, User] | None:
        result = await session.execute(
            select(ReminderDelivery, ReminderRule, User)
            .join(ReminderRule, ReminderRule.id == ReminderDelivery.rule_id)
            .join(User, User.id == ReminderRule.user_id)
            .where(ReminderDelivery.id == delivery_id, User.telegram_id == telegram_id)
        )
        row = result.one_or_none()
        return (row[0], row[1], row[2]) if row else None

    async def _answer_reminder(
        self, telegram_id: int, delivery_id: int, mutate: Mutation
    ) -> ReminderView | None:
        """Apply a button on a reminder to its rule; None when it is not this person's."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            found = await self._own_delivery(session, telegram_id, delivery_id)
            if found is None:
                return None
            _, rule, user = found
            rule.nudge_at = None  # an answered reminder needs no nudge
            mutate(rule, now)
            rule.updated_at = now
            return _view(rule, user, now)

    async def snooze(self, telegram_id: int, delivery_id: int, minutes: int) -> ReminderView | None:
        """Ask again in ``minutes`` (``snooze_local`` in the view says when)."""
        if minutes not in SNOOZE_MINUTES:
            return None

        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.snooze_until = now + timedelta(minutes=minutes)
            refire(rule)

        return await self._answer_reminder(telegram_id, delivery_id, mutate)

    async def skip_today(self, telegram_id: int, delivery_id: int) -> ReminderView | None:
        """No more reminders until tomorrow (local)."""

        def mutate(rule: ReminderRule, now: datetime) -> None:
            rule.snooze_until = None
            reschedule(rule, schedule.end_of_local_day(now, rule.timezone))

        return await self._answer_reminder(telegram_id, delivery_id, mutate)

    async def owns_delivery(self, telegram_id: int, delivery_id: int) -> bool:
        async with self.sessions.begin() as session:
            return await self._own_delivery(session, telegram_id, delivery_id) is not None
