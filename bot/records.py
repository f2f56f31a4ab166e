"""A person's check-ins and escalations over a period, as plain data: what the exports (CSV, PDF,
FHIR) are made from. Loading is the only part that touches the database."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.checkin import Step, answers_by_question
from db.models import CheckIn, Escalation, User
from db.repo.checkins import COMPLETE, OPEN

TYPED = "text"
"""The answers row of warning signs read in what the person typed during a check-in."""


@dataclass(frozen=True)
class Raised:
    """One escalation: when (local time), its tier, and the warning-sign codes behind it."""

    at: datetime
    tier: str  # emergency | urgent | soon
    findings: tuple[str, ...]


@dataclass(frozen=True)
class Record:
    """One check-in."""

    id: int
    started: datetime  # local
    finished: datetime | None  # local
    status: str  # complete | open | cancelled | abandoned
    pain: int | None
    answers: dict[str, tuple[str, ...]]
    """question -> option codes (in questionnaire order is the caller's business)."""
    typed: tuple[str, ...]
    """Warning-sign codes read in what the person typed during the check-in."""
    note: str | None
    raised: tuple[Raised, ...]

    @property
    def complete(self) -> bool:
        return self.status == COMPLETE


@dataclass(frozen=True)
class Records:
    name: str
    zone: str
    language: str
    made_at: datetime  # local
    since: datetime | None  # local; None: everything kept
    checkins: tuple[Record, ...]  # oldest first
    outside: tuple[Raised, ...] = field(default_factory=tuple)
    """Escalations from words typed outside any check-in, or from a check-in that started
    before the period."""

    @property
    def finished(self) -> list[Record]:
        return [r for r in self.checkins if r.complete]

    def pains(self) -> list[int]:
        return [r.pain for r in self.finished if r.pain is not None]

    def mean_pain(self) -> float | None:
        pains = self.pains()
        return fmean(pains) if pains else None

    def pain_range(self) -> tuple[int, int] | None:
        pains = self.pains()
        return (min(pains), max(pains)) if pains else None

    def trend(self) -> tuple[float, float] | None:
        """Mean pain of the earlier and the later half of the finished check-ins (at least four)."""
        pains = self.pains()
        if len(pains) < 4:
            return None
        half = len(pains) // 2
        return fmean(pains[:half]), fmean(pains[half:])

    def counts(self, step: Step) -> Counter[str]:
        """How many finished check-ins reported each option of ``step``."""
        return Counter(o for r in self.finished for o in set(r.answers.get(step.value, ())))

    def escalations(self) -> list[Raised]:
        found = [e for r in self.checkins for e in r.raised] + list(self.outside)
        return sorted(found, key=lambda e: e.at)


async def load_records(
    session: AsyncSession, user: User, now: datetime, days: int | None, name: str
) -> Records:
    """The person's check-ins started in the last ``days`` local days (today included), or all of
    them, with their escalations; times in the person's own time zone."""
    zone = ZoneInfo(user.timezone or "UTC")
    local_now = now.astimezone(zone)
    since = None
    query = (
        select(CheckIn)
        .where(CheckIn.user_id == user.id)
        .order_by(CheckIn.started_at, CheckIn.id)
        .options(selectinload(CheckIn.answers))
    )
    escalations = select(Escalation).where(Escalation.user_id == user.id)
    if days is not None:
        first_day = local_now.date() - timedelta(days=days - 1)
        since = datetime.combine(first_day, datetime.min.time(), zone)
        query = query.where(CheckIn.started_at >= since)
        escalations = escalations.where(Escalation.created_at >= since)
    rows = (await session.scalars(query)).all()
    loaded = {c.id for c in rows}
    by_checkin: dict[int, list[Raised]] = {}
    outside: list[Raised] = []
    for escalation in await session.scalars(escalations.order_by(Escalation.created_at)):
        raised = Raised(
            escalation.created_at.astimezone(zone),
            escalation.tier,
            tuple(escalation.findings.split()) if escalation.findings else (),
        )
        if escalation.checkin_id is None or escalation.checkin_id not in loaded:
            # Typed outside a check-in, or from one that started before the period: never
            # dropped from the list of escalations.
            outside.append(raised)
        else:
            by_checkin.setdefault(escalation.checkin_id, []).append(raised)
    records = []
    for c in rows:
        answers = answers_by_question(
            c.status == OPEN, c.state, ((a.question, a.value) for a in c.answers)
        )
        records.append(
            Record(
                id=c.id,
                started=c.started_at.astimezone(zone),
                finished=c.finished_at.astimezone(zone) if c.finished_at else None,
                status=c.status,
                pain=c.pain_score,
                answers={
                    q: tuple(v) for q, v in answers.items() if q != TYPED and q != Step.PAIN.value
                },
                typed=tuple(answers.get(TYPED, ())),
                note=c.note,
                raised=tuple(by_checkin.get(c.id, ())),
            )
        )
    return Records(
        name=name,
        zone=str(zone),
        language=user.language,
        made_at=local_now,
        since=since,
        checkins=tuple(records),
        outside=tuple(outside),
    )
