"""What history views read: completed check-ins in a window, with answers and escalations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import CheckIn, Escalation
from db.repo.checkins import COMPLETE


async def completed_between(
    session: AsyncSession, user_id: int, start: datetime, end: datetime
) -> Sequence[CheckIn]:
    """Completed check-ins finished in [start, end), oldest first, answers loaded."""
    result = await session.execute(
        select(CheckIn)
        .where(
            CheckIn.user_id == user_id,
            CheckIn.status == COMPLETE,
            CheckIn.finished_at >= start,
            CheckIn.finished_at < end,
        )
        .order_by(CheckIn.finished_at, CheckIn.id)
        .options(selectinload(CheckIn.answers))
    )
    return result.scalars().all()


async def escalation_tiers(
    session: AsyncSession, checkin_ids: Sequence[int]
) -> dict[int, set[str]]:
    """checkin id -> the tiers of its escalations (red, amber)."""
    tiers: dict[int, set[str]] = defaultdict(set)
    if not checkin_ids:
        return tiers
    result = await session.execute(
        select(Escalation.checkin_id, Escalation.tier).where(Escalation.checkin_id.in_(checkin_ids))
    )
    for checkin_id, tier in result.all():
        tiers[checkin_id].add(tier)
    return tiers
