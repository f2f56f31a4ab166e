"""A person's own data: export as CSV, and deletion of everything kept about them."""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.checkin import ORDER, Step, answers_by_question
from bot.clock import Clock
from db.models import CheckIn, Escalation, User
from db.repo import users as user_repo
from db.repo.checkins import OPEN

log = logging.getLogger(__name__)

COLUMNS = (
    "started",
    "finished",
    "status",
    "pain",
    *(step.value for step in ORDER if step is not Step.PAIN),
    "typed_warning_signs",
    "note",
    "escalations",
)
TYPED = "text"
"""The answers row of warning signs read in what the patient typed during a check-in."""
MESSAGE = "message"
"""Status of a row for a warning sign typed outside any check-in (no check-in behind it)."""


@dataclass(frozen=True)
class Export:
    filename: str
    data: bytes
    rows: int


class DataService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def export_csv(self, telegram_id: int) -> Export | None:
        """Every check-in of this person, one row each, times in their own time zone."""
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return None
            checkins = (
                await session.scalars(
                    select(CheckIn)
                    .where(CheckIn.user_id == user.id)
                    .order_by(CheckIn.started_at, CheckIn.id)
                    .options(selectinload(CheckIn.answers))
                )
            ).all()
            escalations: dict[int, list[str]] = defaultdict(list)
            standalone: list[Escalation] = []
            for escalation in await session.scalars(
                select(Escalation)
                .where(Escalation.user_id == user.id)
                .order_by(Escalation.created_at, Escalation.id)
            ):
                if escalation.checkin_id is None:
                    standalone.append(escalation)
                else:
                    escalations[escalation.checkin_id].append(
                        f"{escalation.tier}: {escalation.rule_ids}"
                    )
            zone = ZoneInfo(user.timezone or "UTC")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for checkin in checkins:
            answers = answers_by_question(
                checkin.status == OPEN,
                checkin.state,
                ((a.question, a.value) for a in checkin.answers),
            )
            writer.writerow(
                [
                    checkin.started_at.astimezone(zone).isoformat(timespec="minutes"),
                    checkin.finished_at.astimezone(zone).isoformat(timespec="minutes")
                    if checkin.finished_at
                    else "",
                    checkin.status,
                    "" if checkin.pain_score is None else checkin.pain_score,
                    *(
                        " ".join(sorted(answers.get(step.value, [])))
                        for step in ORDER
                        if step is not Step.PAIN
                    ),
                    " ".join(sorted(answers.get(TYPED, []))),
                    checkin.note or "",
                    "; ".join(escalations.get(checkin.id, [])),
                ]
            )
        blank = ["" for step in ORDER if step is not Step.PAIN]
        for escalation in standalone:
            # A warning sign typed outside any check-in: its codes are kept, not the text.
            when = escalation.created_at.astimezone(zone).isoformat(timespec="minutes")
            writer.writerow(
                [when, when, MESSAGE, "", *blank, escalation.findings, "",
                 f"{escalation.tier}: {escalation.rule_ids}"]
            )  # fmt: skip
        log.info("export of %d check-ins made", len(checkins))
        day = self.clock.now().astimezone(zone).date().isoformat()
        return Export(f"back-pain-checkins-{day}.csv", buffer.getvalue().encode(), len(checkins))

    async def delete_everything(self, telegram_id: int) -> bool:
        """Delete the person and, through the foreign keys, all that hangs on them: check-ins,
        answers, notes, escalations, reminders, invites, caregiver links both ways, views."""
        async with self.sessions.begin() as session:
            result = await session.execute(delete(User).where(User.telegram_id == telegram_id))
            deleted = bool(getattr(result, "rowcount", 0))
        if deleted:
            log.info("a user deleted their data")
        return deleted
