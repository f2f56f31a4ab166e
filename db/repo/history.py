"""What history views read: completed check-ins in a window, with answers and escalations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import CheckIn, Escalation
from db.repo.checkins import COMPLETE


async def for_history(
    session: AsyncSession, user_id: int, start: datetime, end: datetime
) -> Sequence[CheckIn]:
    """Check-ins to show for [start, end), oldest first, answers loaded: every completed one,
    and any unfinished one that led to an escalation (a warning is never hidden)."""
    escalated = select(Escalation.checkin_id).where(Escalation.user_id == user_id)
    when = func.coalesce(CheckIn.finished_at, CheckIn.started_at)
    result = await session.execute(
        select(CheckIn)
        .where(
            CheckIn.user_id == user_id,
            or_(CheckIn.status == COMPLETE, CheckIn.id.in_(escalated)),
            when >= start,
            when < end,
        )
        .order_by(when, CheckIn.id)
        .options(selectinload(CheckIn.answers))
    )
    return result.scalars().all()


async def escalation_tiers(
    session: AsyncSession, checkin_ids: Sequence[int]
) -> dict[int, set[str]]:
    """checkin id -> how its escalations are marked: red (emergency or urgent advice) or amber
    (contact the MS team soon)."""
    tiers: dict[int, set[str]] = defaultdict(set)
    if not checkin_ids:
        return tiers
    result = await session.execute(
        select(Escalation.checkin_id, Escalation.tier).where(Escalation.checkin_id.in_(checkin_ids))
    )
    for checkin_id, tier in result.all():
        if checkin_id is not None:
            tiers[checkin_id].add("red" if tier in ("emergency", "urgent", "red") else "amber")
    return tiers
