"""Every update processed once. Telegram delivers an update again when a webhook answer is slow,
and a network can repeat a request: the update id is recorded before any handler runs, and an id
already recorded is not processed again. A failed update is forgotten, so a redelivery of it is
processed. Records are kept for a bounded time (Telegram redelivers for about a day).

The window left: the process dies after the record is committed and before the work is; a
redelivery of that update (webhook mode only) is then ignored. The buttons themselves are also
safe to repeat (version checks, set-not-flip), which covers that case for taps."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from db.models import ProcessedUpdate

log = logging.getLogger(__name__)

KEEP = timedelta(hours=48)


class UpdateLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def first_time(self, bot_id: int, update_id: int) -> bool:
        """Record the update; False when it was recorded before (a repeat)."""
        try:
            async with self.sessions.begin() as session:
                session.add(
                    ProcessedUpdate(bot_id=bot_id, update_id=update_id, at=self.clock.now())
                )
        except IntegrityError:
            log.info("update %s seen before; not processed again", update_id)
            return False
        return True

    async def forget(self, bot_id: int, update_id: int) -> None:
        """An update whose handling failed: a redelivery of it may be processed."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(ProcessedUpdate).where(
                    ProcessedUpdate.bot_id == bot_id, ProcessedUpdate.update_id == update_id
                )
            )

    async def prune(self) -> int:
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.at < self.clock.now() - KEEP)
            )
        return int(getattr(result, "rowcount", 0) or 0)
