"""Reminder rules and deliveries: claiming due rows, recording occurrences."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import CheckIn, ReminderDelivery, ReminderRule, User

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
MISSED = "missed"


async def rule_of(session: AsyncSession, user_id: int) -> ReminderRule | None:
    result = await session.execute(select(ReminderRule).where(ReminderRule.user_id == user_id))
    return result.scalar_one_or_none()


async def claim(
    session: AsyncSession, now: datetime, lease: timedelta, token: str, limit: int
) -> list[int]:
    """Lease up to ``limit`` due rules to ``token``. On PostgreSQL the inner SELECT takes row
    locks with SKIP LOCKED, so concurrent claimers get disjoint rows; SQLite has one writer."""
    due = (
        select(ReminderRule.id)
        .where(
            ReminderRule.active.is_(True),
            ReminderRule.fire_at <= now,
            or_(ReminderRule.lease_until.is_(None), ReminderRule.lease_until < now),
        )
        .order_by(ReminderRule.fire_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        update(ReminderRule)
        .where(ReminderRule.id.in_(due.scalar_subquery()))
        .values(lease_until=now + lease, lease_token=token)
        .returning(ReminderRule.id)
        .execution_options(synchronize_session=False)
    )
    return list(result.scalars())


async def leased(
    session: AsyncSession, rule_id: int, token: str
) -> tuple[ReminderRule, User] | None:
    """The rule and its user, if this claimer still holds the lease."""
    result = await session.execute(
        select(ReminderRule, User)
        .join(User, User.id == ReminderRule.user_id)
        .where(ReminderRule.id == rule_id, ReminderRule.lease_token == token)
        .with_for_update()
    )
    row = result.one_or_none()
    return (row[0], row[1]) if row else None


async def delivery(
    session: AsyncSession, rule_id: int, due_at: datetime, kind: str
) -> ReminderDelivery | None:
    result = await session.execute(
        select(ReminderDelivery).where(
            ReminderDelivery.rule_id == rule_id,
            ReminderDelivery.due_at == due_at,
            ReminderDelivery.kind == kind,
        )
    )
    return result.scalar_one_or_none()


async def checkin_started_since(session: AsyncSession, user_id: int, since: datetime) -> bool:
    result = await session.execute(
        select(CheckIn.id).where(CheckIn.user_id == user_id, CheckIn.started_at >= since).limit(1)
    )
    return result.first() is not None
