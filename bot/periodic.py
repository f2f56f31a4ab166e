"""Periodic jobs shared by every instance: caregiver digests and housekeeping run once per interval
across all the processes on one database, not once per process.

Each process ticks often (``tick``); a tick runs the job only if it claims the job's row in
``periodic_runs``: a conditional UPDATE that succeeds for one process when the job is due and no
live lease holds it. When the job is done the row moves to the next run and the lease is given
back; a process that dies while it runs leaves a lease that expires, and another takes over."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from db.models import PeriodicRun

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=15)
"""How long a claim lasts: longer than any run of a shared job."""


def tick_seconds(interval: float) -> float:
    """How often a process asks whether a job with this interval is due: often enough that the
    shared interval is kept within a minute, whichever process happens to look."""
    return min(interval, 60.0)


class PeriodicRuns:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, lease: timedelta = LEASE
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.lease = lease
        self._known: set[str] = set()

    async def _ensure(self, name: str) -> None:
        """The job's row, created due now by whichever process comes first."""
        if name in self._known:
            return
        async with self.sessions.begin() as session:
            found = await session.scalar(select(PeriodicRun.name).where(PeriodicRun.name == name))
        if found is None:
            try:
                async with self.sessions.begin() as session:
                    session.add(PeriodicRun(name=name, next_run_at=self.clock.now()))
            except IntegrityError:
                pass  # another process made it first
        self._known.add(name)

    async def claim(self, name: str) -> datetime | None:
        """The lease this process now holds if it may run the job (it is due and nobody holds
        it), else None."""
        await self._ensure(name)
        now = self.clock.now()
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(PeriodicRun)
                .where(
                    PeriodicRun.name == name,
                    PeriodicRun.next_run_at <= now,
                    (PeriodicRun.lease_until.is_(None)) | (PeriodicRun.lease_until <= now),
                )
                .values(lease_until=now + self.lease)
                .execution_options(synchronize_session=False)
            )
        return now + self.lease if getattr(result, "rowcount", 0) == 1 else None

    async def release(self, name: str, interval: timedelta, lease: datetime) -> None:
        """The run is over: the next one is due an interval from now. Only while this process
        still holds its lease: after a run longer than the lease another process took it over,
        and its lease is not ours to clear."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(PeriodicRun)
                .where(PeriodicRun.name == name, PeriodicRun.lease_until == lease)
                .values(next_run_at=self.clock.now() + interval, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    async def run(self, name: str, interval: timedelta, job: Callable[[], Awaitable[None]]) -> bool:
        """Run ``job`` if this process claims it; True if it ran. A failed run counts as a run
        (it is logged), so a job that keeps failing is not tried on every tick."""
        lease = await self.claim(name)
        if lease is None:
            return False
        try:
            await job()
        except Exception:
            log.exception("periodic job %s failed", name)
        finally:
            await self.release(name, interval, lease)
        return True
