"""What caregivers are sent without asking: missed-check-in alerts and weekly summaries, found by
a periodic job (claimed once per interval across instances, bot/periodic.py), and the check that
a link still stands right before anything goes out. Invites, links and sharing choices are in
bot/caregivers.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.caregivers import HistoryView, Recipient, name_of
from bot.clock import Clock
from bot.history import HistoryService, Period
from db.models import CaregiverLink, CaregiverView, SharingSettings, User
from db.repo import caregivers as repo

DIGEST_CHUNK = 500
"""Patients looked at per pair of queries by the digest job."""


def _digests_due(
    settings: SharingSettings, patient: User, last_done: datetime | None, now: datetime
) -> list[tuple[str, int]]:
    """Which digests are due for one patient, as (kind, days); marks them as sent."""
    due: list[tuple[str, int]] = []
    if settings.missed_days:
        since = last_done or patient.consent_at or patient.created_at
        quiet = now - since >= timedelta(days=settings.missed_days)
        alerted = settings.missed_alert_at is not None and settings.missed_alert_at >= since
        if quiet and not alerted:
            settings.missed_alert_at = now
            due.append(("missed", settings.missed_days))
    if settings.weekly_summary and (
        settings.summary_at is None or now - settings.summary_at >= timedelta(days=7)
    ):
        settings.summary_at = now
        due.append(("summary", 7))
    return due


class DigestService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, history: HistoryService
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.history = history

    async def still_linked(self, link_id: int) -> bool:
        """Checked right before each alert goes out: a removal takes effect at once."""
        async with self.sessions.begin() as session:
            link = await session.get(CaregiverLink, link_id)
            return link is not None and link.revoked_at is None

    async def due_digests(self) -> list[tuple[int, str, int, list[Recipient]]]:
        """Patients whose caregivers are due a missed-check-in alert or a weekly summary:
        (patient user id, kind, days, recipients). Marks them as sent."""
        now = self.clock.now()
        due: list[tuple[int, str, int, list[Recipient]]] = []
        async with self.sessions.begin() as session:
            rows = (
                await session.execute(
                    select(SharingSettings, User)
                    .join(User, User.id == SharingSettings.patient_id)
                    .where((SharingSettings.missed_days > 0) | SharingSettings.weekly_summary)
                )
            ).all()
            for start in range(0, len(rows), DIGEST_CHUNK):
                chunk = rows[start : start + DIGEST_CHUNK]
                ids = [patient.id for _, patient in chunk]
                links = await repo.caregivers_of_many(session, ids)
                last_done = await repo.last_checkins(session, ids)
                for settings, patient in chunk:
                    recipients = [
                        Recipient(link.id, user.chat_id, user.language)
                        for link, user in links.get(patient.id, [])
                    ]
                    if not recipients:
                        continue
                    for kind, days in _digests_due(
                        settings, patient, last_done.get(patient.id), now
                    ):
                        due.append((patient.id, kind, days, recipients))
        return due

    async def summary_for(self, patient_id: int, recipient: Recipient) -> HistoryView | None:
        """A weekly summary for one caregiver, recorded like a view."""
        async with self.sessions.begin() as session:
            link = await session.get(CaregiverLink, recipient.link_id)
            patient = await session.get(User, patient_id)
            if link is None or link.revoked_at is not None or patient is None:
                return None
            session.add(
                CaregiverView(
                    patient_id=patient_id,
                    caregiver_id=link.caregiver_id,
                    viewed_at=self.clock.now(),
                    kind="summary",
                    days=7,
                )
            )
            period = await self.history.load(session, patient, 7)
            period = Period(
                period.days, period.now, period.zone, period.entries, recipient.language
            )
            return HistoryView(period, patient_id, name_of(patient))

    async def patient_name(self, patient_id: int) -> str:
        async with self.sessions.begin() as session:
            patient = await session.get(User, patient_id)
            return name_of(patient) if patient else ""
