"""Users: find or create by Telegram id, consent, time zone, what free text means now."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> User | None:
    result = await session.execute(select(User).where(User.telegram_id == telegram_id))
    return result.scalar_one_or_none()


async def get_or_create(
    session: AsyncSession, telegram_id: int, chat_id: int, language: str, now: datetime
) -> User:
    user = await by_telegram_id(session, telegram_id)
    if user is None:
        user = User(
            telegram_id=telegram_id,
            chat_id=chat_id,
            language=language,
            created_at=now,
        )
        session.add(user)
        await session.flush()
    else:
        user.chat_id = chat_id
        user.language = language
    return user
