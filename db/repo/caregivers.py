"""Caregiver invites, links, sharing settings and the view audit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    CaregiverInvite,
    CaregiverLink,
    CaregiverView,
    CheckIn,
    SharingSettings,
    User,
)
from db.repo.checkins import COMPLETE


async def use_invite(
    session: AsyncSession, invite_id: int, caregiver_id: int, now: datetime
) -> int | None:
    """Mark the invite used, atomically: only an unused, unexpired invite yields its patient."""
    result = await session.execute(
        update(CaregiverInvite)
        .where(
            CaregiverInvite.id == invite_id,
            CaregiverInvite.used_at.is_(None),
            CaregiverInvite.expires_at > now,
        )
        .values(used_at=now, used_by=caregiver_id)
        .returning(CaregiverInvite.patient_id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def invite_by_hash(session: AsyncSession, token_hash: str) -> CaregiverInvite | None:
    result = await session.execute(
        select(CaregiverInvite).where(CaregiverInvite.token_hash == token_hash)
    )
    return result.scalar_one_or_none()


async def active_link(
    session: AsyncSession, patient_id: int, caregiver_id: int
) -> CaregiverLink | None:
    result = await session.execute(
        select(CaregiverLink).where(
            CaregiverLink.patient_id == patient_id,
            CaregiverLink.caregiver_id == caregiver_id,
            CaregiverLink.revoked_at.is_(None),
        )
    )
    return result.scalar_one_or_none()


async def link(session: AsyncSession, patient_id: int, caregiver_id: int) -> CaregiverLink | None:
    result = await session.execute(
        select(CaregiverLink).where(
            CaregiverLink.patient_id == patient_id, CaregiverLink.caregiver_id == caregiver_id
        )
    )
    return result.scalar_one_or_none()


async def _active(
    session: AsyncSession, mine: Any, other: Any, user_id: int
) -> Sequence[tuple[CaregiverLink, User]]:
    """Active links where ``mine`` is ``user_id``, each with the user on the ``other`` side."""
    result = await session.execute(
        select(CaregiverLink, User)
        .join(User, User.id == other)
        .where(mine == user_id, CaregiverLink.revoked_at.is_(None))
        .order_by(CaregiverLink.created_at)
    )
    return [(row[0], row[1]) for row in result.all()]


async def caregivers_of(
    session: AsyncSession, patient_id: int
) -> Sequence[tuple[CaregiverLink, User]]:
    return await _active(session, CaregiverLink.patient_id, CaregiverLink.caregiver_id, patient_id)


async def patients_of(
    session: AsyncSession, caregiver_id: int
) -> Sequence[tuple[CaregiverLink, User]]:
    return await _active(
        session, CaregiverLink.caregiver_id, CaregiverLink.patient_id, caregiver_id
    )


async def caregivers_of_many(
    session: AsyncSession, patient_ids: Sequence[int]
) -> dict[int, list[tuple[CaregiverLink, User]]]:
    """Active caregivers of many patients in one query: patient id -> links."""
    found: dict[int, list[tuple[CaregiverLink, User]]] = defaultdict(list)
    if not patient_ids:
        return found
    result = await session.execute(
        select(CaregiverLink, User)
        .join(User, User.id == CaregiverLink.caregiver_id)
        .where(CaregiverLink.patient_id.in_(patient_ids), CaregiverLink.revoked_at.is_(None))
        .order_by(CaregiverLink.created_at)
    )
    for link, user in result.all():
        found[link.patient_id].append((link, user))
    return found


async def last_checkins(session: AsyncSession, patient_ids: Sequence[int]) -> dict[int, datetime]:
    """When each patient last completed a check-in, in one grouped query."""
    if not patient_ids:
        return {}
    result = await session.execute(
        select(CheckIn.user_id, func.max(CheckIn.finished_at))
        .where(CheckIn.user_id.in_(patient_ids), CheckIn.status == COMPLETE)
        .group_by(CheckIn.user_id)
    )
    # max() over a UtcDateTime comes back without the type's processing on some backends.
    return {
        user_id: when if when.tzinfo else when.replace(tzinfo=UTC)
        for user_id, when in result.all()
        if when is not None
    }


async def settings_of(session: AsyncSession, patient_id: int) -> SharingSettings:
    found = await session.get(SharingSettings, patient_id)
    if found is None:
        found = SharingSettings(
            patient_id=patient_id,
            red_alerts=True,
            amber_alerts=False,
            missed_days=0,
            weekly_summary=False,
        )
        session.add(found)
        await session.flush()
    return found


async def recent_views(
    session: AsyncSession, patient_id: int, limit: int
) -> Sequence[tuple[CaregiverView, User]]:
    result = await session.execute(
        select(CaregiverView, User)
        .join(User, User.id == CaregiverView.caregiver_id)
        .where(CaregiverView.patient_id == patient_id)
        .order_by(CaregiverView.viewed_at.desc(), CaregiverView.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in result.all()]
