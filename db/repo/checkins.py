"""Check-ins, their answers, escalations and snippet deliveries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import CheckIn, CheckInAnswer, Escalation, SnippetDelivery, User

OPEN = "open"
COMPLETE = "complete"
CANCELLED = "cancelled"
ABANDONED = "abandoned"


async def owned(session: AsyncSession, checkin_id: int, telegram_id: int) -> CheckIn | None:
    """The check-in with this id if, and only if, it belongs to this Telegram user."""
    result = await session.execute(
        select(CheckIn)
        .join(User, User.id == CheckIn.user_id)
        .where(CheckIn.id == checkin_id, User.telegram_id == telegram_id)
    )
    return result.scalar_one_or_none()


_OWNED_WITH_USER = (
    select(CheckIn, User)
    .join(User, User.id == CheckIn.user_id)
    .where(CheckIn.id == bindparam("checkin"), User.telegram_id == bindparam("person"))
)
"""A check-in with its owner, if it is this person's: built once, as many taps run it."""


async def owned_with_user(
    session: AsyncSession, checkin_id: int, telegram_id: int
) -> tuple[CheckIn, User] | None:
    """The check-in with this id and its owner if, and only if, it belongs to this Telegram
    user."""
    result = await session.execute(_OWNED_WITH_USER, {"checkin": checkin_id, "person": telegram_id})
    row = result.one_or_none()
    return (row[0], row[1]) if row else None


async def open_for(session: AsyncSession, user_id: int, *, lock: bool = False) -> CheckIn | None:
    """The person's open check-in. ``lock`` takes the row lock (PostgreSQL), for a writer that
    changes the row without the version check: a tap committed meanwhile is then seen, not
    overwritten, and the tap that comes after sees the version moved on."""
    query = (
        select(CheckIn)
        .where(CheckIn.user_id == user_id, CheckIn.status == OPEN)
        .order_by(CheckIn.started_at.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    result = await session.execute(query)
    return result.scalar_one_or_none()


async def save_state(
    session: AsyncSession,
    checkin: CheckIn,
    *,
    step: str,
    state: dict[str, Any],
    now: datetime,
    pain_score: int | None,
    status: str | None = None,
    finished_at: datetime | None = None,
) -> bool:
    """Write the new state if nobody else changed the row since it was read (optimistic lock).

    Returns False when the check-in moved on meanwhile (a double tap, another instance)."""
    values: dict[str, Any] = {
        "step": step,
        "state": state,
        "updated_at": now,
        "pain_score": pain_score,
        "version": checkin.version + 1,
    }
    if status is not None:
        values["status"] = status
    if finished_at is not None:
        values["finished_at"] = finished_at
    result = await session.execute(
        update(CheckIn)
        .where(
            CheckIn.id == checkin.id,
            CheckIn.version == checkin.version,
            CheckIn.status == checkin.status,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def write_answers(
    session: AsyncSession, checkin_id: int, rows: Iterable[tuple[str, str]]
) -> None:
    """Replace the answers rows of a check-in. Written when it closes (finished, cancelled,
    closed by advice or left too long) and when typed text is added to a closed one: while it
    is open its state holds the answers, so a tap stays one small transaction."""
    await session.execute(delete(CheckInAnswer).where(CheckInAnswer.checkin_id == checkin_id))
    values = [{"checkin_id": checkin_id, "question": q, "value": v} for q, v in rows]
    if values:
        await session.execute(insert(CheckInAnswer), values)


async def recent_complete(
    session: AsyncSession,
    user_id: int,
    limit: int,
    exclude: int | None = None,
    since: datetime | None = None,
) -> Sequence[CheckIn]:
    """The user's latest completed check-ins, newest first, with their answers loaded."""
    query = (
        select(CheckIn)
        .where(CheckIn.user_id == user_id, CheckIn.status == COMPLETE)
        .order_by(CheckIn.finished_at.desc(), CheckIn.id.desc())
        .limit(limit)
        .options(selectinload(CheckIn.answers))
    )
    if exclude is not None:
        query = query.where(CheckIn.id != exclude)
    if since is not None:
        query = query.where(CheckIn.finished_at >= since)
    return (await session.execute(query)).scalars().all()


async def snippet_ids_of(session: AsyncSession, checkin_id: int) -> list[str]:
    result = await session.execute(
        select(SnippetDelivery.snippet_id).where(SnippetDelivery.checkin_id == checkin_id)
    )
    return list(result.scalars())


async def add_escalation(
    session: AsyncSession,
    *,
    user_id: int,
    checkin_id: int,
    tier: str,
    rule_ids: Sequence[str],
    now: datetime,
) -> Escalation:
    escalation = Escalation(
        user_id=user_id,
        checkin_id=checkin_id,
        tier=tier,
        rule_ids=" ".join(rule_ids),
        created_at=now,
    )
    session.add(escalation)
    await session.flush()
    return escalation


async def mark_sent(session: AsyncSession, escalation_id: int, when: datetime) -> None:
    await session.execute(
        update(Escalation).where(Escalation.id == escalation_id).values(sent_at=when)
    )


async def stale(
    session: AsyncSession, idle_before: datetime, limit: int
) -> Sequence[tuple[int, dict[str, Any]]]:
    """(id, state) of open check-ins idle since before ``idle_before``, locked for closing
    (rows another instance is closing are skipped on PostgreSQL)."""
    result = await session.execute(
        select(CheckIn.id, CheckIn.state)
        .where(CheckIn.status == OPEN, CheckIn.updated_at < idle_before)
        .order_by(CheckIn.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row[0], row[1]) for row in result.all()]


async def close(session: AsyncSession, ids: Sequence[int], status: str, now: datetime) -> int:
    """Close these open check-ins (version moves on, so a tap based on them is refused)."""
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.id.in_(ids), CheckIn.status == OPEN)
        .values(status=status, updated_at=now, version=CheckIn.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
