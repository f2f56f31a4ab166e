"""Every update processed once. Telegram delivers an update again when a webhook answer is slow,
and a network can repeat a request. The update id is recorded in the same transaction as the work
it causes: the first transaction an update's handlers open inserts ``(bot id, update id)`` into
``processed_updates`` before anything else. A repeat of the update then fails on the primary key
inside its own first transaction, which rolls back with everything it would have done
(:class:`AlreadyProcessed`); a crash before the commit loses the record together with the work, so
a redelivery is processed. An update whose handlers open no transaction is recorded once they are
done; one that failed is not recorded, so a redelivery may be processed. Records are kept for a
bounded time (Telegram redelivers for about a day).

The per-update bookkeeping lives in a context variable set by :meth:`UpdateLog.processing` (the
update processor wraps every update in it), so the services need not pass it around."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from bot.clock import Clock
from db.models import ProcessedUpdate
from db.session import UnitSession

log = logging.getLogger(__name__)

KEEP = timedelta(hours=48)


class AlreadyProcessed(Exception):
    """This update was processed before; the transaction that found it out rolled back."""


@dataclass
class Pending:
    """The update being processed in this task."""

    bot_id: int
    update_id: int
    at: datetime
    recorded: bool = False
    """Its record is committed (with the work of the transaction that carried it)."""
    skip: bool = False
    """Dropped before any work (a flood, an update of nobody): not worth a record."""
    failed: bool = False
    """A handler failed: without a committed record, a redelivery may be processed."""
    carriers: set[int] = field(default_factory=set)
    """Sessions whose open transaction holds the record, not yet committed."""


_RECORD = insert(ProcessedUpdate)
"""Built once: every update runs it, and building (and keying) it anew cost 0.06 ms a time."""

_pending: ContextVar[Pending | None] = ContextVar("pending_update", default=None)


def current() -> Pending | None:
    return _pending.get()


@event.listens_for(UnitSession, "after_begin")
def _record_first(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    record = unrecorded()
    pending = _pending.get()
    if record is None or pending is None:
        return
    bot_id, update_id, at = record
    try:
        connection.execute(_RECORD, {"bot_id": bot_id, "update_id": update_id, "at": at})
    except IntegrityError:
        log.info("update %s seen before; not processed again", update_id)
        raise AlreadyProcessed(update_id) from None
    pending.carriers.add(id(session))


@event.listens_for(UnitSession, "after_commit")
def _committed(session: Session) -> None:
    pending = _pending.get()
    if pending is not None and id(session) in pending.carriers:
        pending.carriers.discard(id(session))
        pending.recorded = True


@event.listens_for(UnitSession, "after_rollback")
def _rolled_back(session: Session) -> None:
    pending = _pending.get()
    if pending is not None:
        pending.carriers.discard(id(session))


class UpdateLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    @asynccontextmanager
    async def processing(self, bot_id: int, update_id: int) -> AsyncIterator[Pending]:
        """Around one update's handlers: its first transaction carries the record; if none did,
        the record is written afterwards (unless the update was dropped or failed)."""
        pending = Pending(bot_id, update_id, self.clock.now())
        token = _pending.set(pending)
        try:
            yield pending
        finally:
            _pending.reset(token)
        if not (pending.recorded or pending.skip or pending.failed):
            await self._record_alone(pending)

    async def _record_alone(self, pending: Pending) -> None:
        try:
            async with self.sessions.begin() as session:
                session.add(
                    ProcessedUpdate(
                        bot_id=pending.bot_id, update_id=pending.update_id, at=pending.at
                    )
                )
        except IntegrityError:
            log.info("update %s seen before", pending.update_id)

    async def seen(self, bot_id: int, update_id: int) -> bool:
        async with self.sessions() as session:
            found = await session.get(ProcessedUpdate, (bot_id, update_id))
            return found is not None

    async def prune(self) -> int:
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.at < self.clock.now() - KEEP)
            )
        return int(getattr(result, "rowcount", 0) or 0)


def unrecorded() -> tuple[int, int, datetime] | None:
    """``(bot id, update id, at)`` of the update in progress if its record is still to be
    written: for a transaction outside the ORM session (``db.tap``), which writes it first
    itself and then calls :func:`mark_recorded` once it committed."""
    pending = _pending.get()
    if pending is None or pending.recorded or pending.skip or pending.carriers:
        return None
    return pending.bot_id, pending.update_id, pending.at


def mark_recorded() -> None:
    pending = _pending.get()
    if pending is not None:
        pending.recorded = True


def drop_quietly() -> None:
    """The update is dropped before any work: no record is needed."""
    pending = _pending.get()
    if pending is not None:
        pending.skip = True


def mark_failed() -> None:
    pending = _pending.get()
    if pending is not None:
        pending.failed = True
