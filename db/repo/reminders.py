"""Reminder rules and deliveries: claiming due rows, recording occurrences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


async def oldest_due(session: AsyncSession | AsyncConnection, now: datetime) -> datetime | None:
    """When the most overdue active rule fell due (its ``fire_at``), if any is due: the sweep's
    lag, read from the index on (active, fire_at)."""
    return await session.scalar(
        select(func.min(ReminderRule.fire_at)).where(
            ReminderRule.active.is_(True), ReminderRule.fire_at <= now
        )
    )


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


async def leased_many(
    session: AsyncSession, rule_ids: list[int], token: str
) -> list[tuple[ReminderRule, User]]:
    """The rules (with their users) among ``rule_ids`` this claimer still holds, locked, in id
    order: one statement for a whole batch."""
    if not rule_ids:
        return []
    result = await session.execute(
        select(ReminderRule, User)
        .join(User, User.id == ReminderRule.user_id)
        .where(ReminderRule.id.in_(rule_ids), ReminderRule.lease_token == token)
        .order_by(ReminderRule.id)
        .with_for_update(of=ReminderRule)
    )
    return [(row[0], row[1]) for row in result.all()]


async def deliveries_for(
    session: AsyncSession, rule_ids: list[int], due_ats: set[datetime], ids: set[int]
) -> list[ReminderDelivery]:
    """Every occurrence of these rules at these instants, and the occurrences with these ids:
    one statement (the caller keeps the exact (rule, instant, kind) it wants)."""
    conditions: list[ColumnElement[bool]] = []
    if rule_ids and due_ats:
        conditions.append(
            and_(ReminderDelivery.rule_id.in_(rule_ids), ReminderDelivery.due_at.in_(due_ats))
        )
    if ids:
        conditions.append(ReminderDelivery.id.in_(ids))
    if not conditions:
        return []
    result = await session.scalars(select(ReminderDelivery).where(or_(*conditions)))
    return list(result)


async def latest_checkin_starts(session: AsyncSession, user_ids: set[int]) -> dict[int, datetime]:
    """When each of these people last started a check-in (absent: never)."""
    if not user_ids:
        return {}
    result = await session.execute(
        select(CheckIn.user_id, func.max(CheckIn.started_at))
        .where(CheckIn.user_id.in_(user_ids))
        .group_by(CheckIn.user_id)
    )
    return {user_id: started for user_id, started in result.all() if started is not None}


SCHEDULE_COLUMNS = (
    "next_due_at",
    "snooze_until",
    "nudge_at",
    "nudge_delivery_id",
    "fire_at",
    "lease_until",
    "lease_token",
    "active",
    "disabled_reason",
)
"""What the sweep changes on a rule."""
OUTCOME_COLUMNS = ("status", "attempts", "sent_at", "message_id", "error")
"""What the sweep changes on an occurrence."""


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Record these occurrences in one batched INSERT; the id of each pending one, by rule (a
    rule has at most one pending occurrence in a batch)."""
    if not rows:
        return {}
    result = await session.execute(
        insert(ReminderDelivery).returning(
            ReminderDelivery.id, ReminderDelivery.rule_id, ReminderDelivery.status
        ),
        rows,
    )
    return {rule_id: id_ for id_, rule_id, status in result.all() if status == PENDING}


async def write_rules(session: AsyncSession, rules: list[ReminderRule]) -> None:
    """The schedule columns of these rules, in one executemany UPDATE by primary key."""
    if rules:
        await session.execute(
            update(ReminderRule),
            [{"id": r.id, **{c: getattr(r, c) for c in SCHEDULE_COLUMNS}} for r in rules],
        )


async def write_outcomes(session: AsyncSession, deliveries: list[ReminderDelivery]) -> None:
    """What came of sending these occurrences, in one executemany UPDATE by primary key."""
    if deliveries:
        await session.execute(
            update(ReminderDelivery),
            [{"id": d.id, **{c: getattr(d, c) for c in OUTCOME_COLUMNS}} for d in deliveries],
        )
