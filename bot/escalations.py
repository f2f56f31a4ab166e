"""Escalations as an outbox: advice is stored first (with one alert row per caregiver who receives
it), then sent, and retried until Telegram confirms it. Nothing here knows Telegram: the handlers
render and send, and report back with :meth:`Outbox.delivered` or :meth:`Outbox.failed`.

A row is claimed by moving its ``next_attempt_at`` forward by a lease before it is sent, so two
instances (or the immediate send and the retry job) never send the same row at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.caregivers import name_of
from bot.clock import Clock
from bot.emergency import Call, call_for, country_of
from bot.findings import Code
from bot.metrics import Metrics
from bot.triage import Assessment, Tier, codes_of
from db.models import CaregiverAlert, CaregiverLink, Escalation, SharingSettings, User

log = logging.getLogger(__name__)

_Row = TypeVar("_Row", Escalation, CaregiverAlert)

FIRST_RETRY = timedelta(seconds=20)
"""The immediate send has this long before the retry job may take a row over."""
LEASE = timedelta(minutes=3)
"""Longer than a send can take with the rate limiter's own retries of 429 answers, so a slow
send is never taken over and sent twice; a crashed sender's rows are retried after it."""
MAX_BACKOFF = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(hours=24)
"""Advice older than this is no longer sent: it would arrive too late to help."""


@dataclass(frozen=True)
class Advice:
    """Everything needed to render one escalation, for the patient or a caregiver."""

    escalation_id: int
    tier: Tier
    rule_ids: tuple[str, ...]
    codes: tuple[Code, ...]
    pain: int | None
    call: Call
    """The emergency number(s) the advice names."""
    country: str | None
    immunosuppressed: bool | None
    chat_id: int
    language: str
    patient_name: str
    in_checkin: bool = True
    """The advice is about a check-in (answers kept), not a sign typed outside any."""


@dataclass(frozen=True)
class AlertJob:
    """One caregiver alert to send."""

    alert_id: int
    chat_id: int
    language: str
    advice: Advice
    at: datetime
    """When the warning sign was reported: in the caregiver's time zone, or in the patient's if
    the caregiver never gave one (``own_zone`` False)."""
    patient_id: int
    own_zone: bool = True


def _advice(escalation: Escalation, user: User, numbers: dict[str, str]) -> Advice:
    return Advice(
        escalation_id=escalation.id,
        tier=Tier.of(escalation.tier),
        rule_ids=tuple(escalation.rule_ids.split()),
        codes=tuple(Code(c) for c in escalation.findings.split() if c in Code.__members__.values()),
        pain=escalation.pain,
        call=call_for(user.emergency_number, user.timezone, numbers),
        country=country_of(user.timezone),
        immunosuppressed=user.immunosuppressed,
        chat_id=user.chat_id,
        language=user.language,
        patient_name=name_of(user),
        in_checkin=escalation.checkin_id is not None,
    )


def _backoff(attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=5 * 2 ** max(0, attempts - 1)))


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        numbers: dict[str, str],
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.sessions = sessions
        self.clock = clock
        self.numbers = numbers

    async def record(
        self,
        session: AsyncSession,
        user: User,
        checkin_id: int | None,
        assessment: Assessment,
        findings: frozenset[Code],
        pain: int | None,
    ) -> Advice:
        """Store the escalation and one alert per caregiver who receives this tier, in the
        caller's transaction; the caller sends the advice once it has committed."""
        now = self.clock.now()
        escalation = Escalation(
            user_id=user.id,
            checkin_id=checkin_id,
            tier=assessment.tier.label,
            rule_ids=" ".join(assessment.rule_ids),
            findings=" ".join(c.value for c in codes_of(assessment.fired, findings)),
            pain=pain,
            created_at=now,
            attempts=0,
            next_attempt_at=now + FIRST_RETRY,
        )
        session.add(escalation)
        await session.flush()
        settings = await session.get(SharingSettings, user.id)
        wanted = (
            (settings.red_alerts if settings else True)
            if assessment.tier >= Tier.URGENT
            else (settings.amber_alerts if settings else False)
        )
        if wanted:
            links = await session.scalars(
                select(CaregiverLink).where(
                    CaregiverLink.patient_id == user.id, CaregiverLink.revoked_at.is_(None)
                )
            )
            session.add_all(
                CaregiverAlert(
                    escalation_id=escalation.id,
                    link_id=link.id,
                    created_at=now,
                    attempts=0,
                    next_attempt_at=now + FIRST_RETRY,
                )
                for link in links
            )
        # Which rules fired is health data: the log says only that an escalation was recorded.
        log.info("escalation %s recorded", escalation.id)
        self.metrics.escalations.labels(assessment.tier.label).inc()
        return _advice(escalation, user, self.numbers)

    # --- claiming ---------------------------------------------------------------------------

    async def claim(self, escalation_id: int) -> Advice | None:
        """Take one escalation for sending now (the immediate path); None if it is already sent
        or being sent elsewhere."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            claimed = await session.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id, Escalation.sent_at.is_(None))
                .where(Escalation.next_attempt_at.is_not(None), Escalation.attempts == 0)
                .values(next_attempt_at=now + LEASE, attempts=Escalation.attempts + 1)
                .returning(Escalation.id)
                .execution_options(synchronize_session=False)
            )
            if claimed.scalar_one_or_none() is None:
                return None
            row = (
                await session.execute(
                    select(Escalation, User)
                    .join(User, User.id == Escalation.user_id)
                    .where(Escalation.id == escalation_id)
                )
            ).one()
            return _advice(row[0], row[1], self.numbers)

    async def due_escalations(self, limit: int = 50) -> list[Advice]:
        """Escalations whose advice has not been confirmed and whose retry time has come."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            rows = (
                await session.execute(
                    select(Escalation.id)
                    .where(Escalation.sent_at.is_(None), Escalation.next_attempt_at <= now)
                    .order_by(Escalation.next_attempt_at)
                    .limit(limit)
                )
            ).scalars()
            ids = list(rows)
        claimed: list[Advice] = []
        for escalation_id in ids:
            advice = await self._claim_due(escalation_id, now)
            if advice is not None:
                claimed.append(advice)
        return claimed

    async def _claim_due(self, escalation_id: int, now: datetime) -> Advice | None:
        async with self.sessions.begin() as session:
            escalation = await session.get(Escalation, escalation_id)
            if escalation is None or escalation.sent_at is not None:
                return None
            if escalation.created_at < now - GIVE_UP_AFTER:
                escalation.next_attempt_at = None
                escalation.failed = "too_late"
                log.warning("escalation %s not delivered within a day; given up", escalation_id)
                return None
            result = await session.execute(
                update(Escalation)
                .where(
                    Escalation.id == escalation_id,
                    Escalation.sent_at.is_(None),
                    Escalation.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + LEASE, attempts=Escalation.attempts + 1)
                .returning(Escalation.id)
                .execution_options(synchronize_session=False)
            )
            if result.scalar_one_or_none() is None:
                return None
            user = await session.get(User, escalation.user_id)
            if user is None:
                return None
            return _advice(escalation, user, self.numbers)

    async def due_alerts(
        self, escalation_id: int | None = None, limit: int = 100
    ) -> list[AlertJob]:
        """Caregiver alerts to send now: those of one escalation whose advice has gone out (the
        immediate path), or any whose retry time has come. A removed caregiver gets nothing."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            query = (
                select(CaregiverAlert, CaregiverLink, Escalation)
                .join(CaregiverLink, CaregiverLink.id == CaregiverAlert.link_id)
                .join(Escalation, Escalation.id == CaregiverAlert.escalation_id)
                .where(
                    CaregiverAlert.sent_at.is_(None), CaregiverAlert.next_attempt_at.is_not(None)
                )
                .limit(limit)
            )
            if escalation_id is not None:
                query = query.where(CaregiverAlert.escalation_id == escalation_id)
            else:
                query = query.where(CaregiverAlert.next_attempt_at <= now)
            jobs: list[AlertJob] = []
            for alert, link, escalation in (await session.execute(query)).all():
                if link.revoked_at is not None or alert.created_at < now - GIVE_UP_AFTER:
                    alert.next_attempt_at = None
                    alert.failed = "removed" if link.revoked_at is not None else "too_late"
                    continue
                # Claimed only if nobody else claimed it since it was read: the immediate path
                # takes alerts never tried, the retry job those whose time has come.
                claimed = await session.execute(
                    update(CaregiverAlert)
                    .where(
                        CaregiverAlert.id == alert.id,
                        CaregiverAlert.sent_at.is_(None),
                        CaregiverAlert.attempts == alert.attempts,
                    )
                    .where(
                        CaregiverAlert.attempts == 0
                        if escalation_id is not None
                        else CaregiverAlert.next_attempt_at <= now
                    )
                    .values(next_attempt_at=now + LEASE, attempts=CaregiverAlert.attempts + 1)
                    .returning(CaregiverAlert.id)
                    .execution_options(synchronize_session=False)
                )
                if claimed.scalar_one_or_none() is None:
                    continue
                patient = await session.get(User, escalation.user_id)
                caregiver = await session.get(User, link.caregiver_id)
                if patient is None or caregiver is None:
                    continue
                jobs.append(
                    AlertJob(
                        alert.id,
                        caregiver.chat_id,
                        caregiver.language,
                        _advice(escalation, patient, self.numbers),
                        escalation.created_at.astimezone(
                            ZoneInfo(caregiver.timezone or patient.timezone or "UTC")
                        ),
                        patient.id,
                        own_zone=caregiver.timezone is not None,
                    )
                )
            return jobs

    # --- outcomes ---------------------------------------------------------------------------
    # Both outboxes (the patient's advice, caregivers' alerts) record outcomes the same way.

    async def _delivered(self, model: type[_Row], row_id: int) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(model)
                .where(model.id == row_id)
                .values(sent_at=self.clock.now(), next_attempt_at=None)
            )

    async def _failed(
        self,
        model: type[_Row],
        row_id: int,
        final: str | None,
        retry_after: float | None,
    ) -> None:
        """Try again later (after ``retry_after`` seconds when Telegram asked for a pause), or
        stop for good with the reason ``final`` (the chat blocked the bot)."""
        async with self.sessions.begin() as session:
            row = await session.get(model, row_id)
            if row is None or row.sent_at is not None:
                return
            if final is not None:
                row.next_attempt_at = None
                row.failed = final
                return
            wait = timedelta(seconds=retry_after) if retry_after else _backoff(row.attempts)
            row.next_attempt_at = self.clock.now() + wait

    async def delivered(self, escalation_id: int) -> None:
        await self._delivered(Escalation, escalation_id)

    async def failed(
        self, escalation_id: int, *, final: str | None = None, retry_after: float | None = None
    ) -> None:
        await self._failed(Escalation, escalation_id, final, retry_after)

    async def alert_delivered(self, alert_id: int) -> None:
        await self._delivered(CaregiverAlert, alert_id)

    async def alert_failed(
        self, alert_id: int, *, final: str | None = None, retry_after: float | None = None
    ) -> None:
        await self._failed(CaregiverAlert, alert_id, final, retry_after)
