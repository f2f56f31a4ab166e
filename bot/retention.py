"""How long a person's check-ins are kept: for ever (the default), one year or 90 days, as they
choose in /privacy. A daily job, claimed once across instances (bot/periodic.py), deletes what is
older: check-ins (with their answers, the tips shown, their escalations and caregiver alerts),
warning signs typed outside check-ins, reminder deliveries, caregiver views and invites. What a
person is now (their settings, reminder times, caregiver links) is not history and stays."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from db.models import (
    CaregiverInvite,
    CaregiverView,
    CheckIn,
    Escalation,
    ReminderDelivery,
    User,
)
from db.repo import users as user_repo
from db.repo.checkins import OPEN

log = logging.getLogger(__name__)

KEEP_CHOICES: tuple[int | None, ...] = (None, 365, 90)
"""Days to keep check-ins; None: for ever."""
DAILY = 24 * 3600.0


@dataclass(frozen=True)
class Keeping:
    days: int | None
    consented: bool
    language: str


class RetentionService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def keeping(self, telegram_id: int) -> Keeping | None:
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None:
                return None
            return Keeping(user.keep_days, user.consent_at is not None, user.language)

    async def choose(self, telegram_id: int, days: int | None) -> bool:
        """Set how long to keep check-ins (the button carries the value: a repeat is harmless).
        Older ones go at the next daily run."""
        if days not in KEEP_CHOICES:
            return False
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(User)
                .where(User.telegram_id == telegram_id, User.consent_at.is_not(None))
                .values(keep_days=days)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0))

    async def apply(self) -> int:
        """Delete what is older than each person's choice; returns the check-ins deleted."""
        now = self.clock.now()
        deleted = 0
        async with self.sessions.begin() as session:
            people = (
                await session.execute(select(User.id, User.keep_days).where(User.keep_days > 0))
            ).all()
        for user_id, days in people:
            # One short transaction per person: on SQLite's one connection, nobody's tap (or
            # red-flag advice) waits for the whole job.
            if days:
                async with self.sessions.begin() as session:
                    deleted += await _forget(session, user_id, now - timedelta(days=days))
        if people:
            log.info("retention: %d check-ins of %d people deleted", deleted, len(people))
        return deleted


async def _forget(session: AsyncSession, user_id: int, before: datetime) -> int:
    """One person's history before ``before``. Answers, tips shown, escalations and their
    caregiver alerts go with their check-in (ON DELETE CASCADE)."""
    result = await session.execute(
        delete(CheckIn).where(
            CheckIn.user_id == user_id, CheckIn.started_at < before, CheckIn.status != OPEN
        )
    )
    await session.execute(
        delete(Escalation).where(
            Escalation.user_id == user_id,
            Escalation.checkin_id.is_(None),
            Escalation.created_at < before,
        )
    )
    await session.execute(
        delete(ReminderDelivery).where(
            ReminderDelivery.user_id == user_id, ReminderDelivery.created_at < before
        )
    )
    await session.execute(
        delete(CaregiverView).where(
            CaregiverView.patient_id == user_id, CaregiverView.viewed_at < before
        )
    )
    await session.execute(
        delete(CaregiverInvite).where(
            CaregiverInvite.patient_id == user_id, CaregiverInvite.expires_at < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
