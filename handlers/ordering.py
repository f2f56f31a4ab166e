"""Many people at once, each person in order: updates from different people are handled
concurrently; one person's updates are handled one after another, in the order they came.
The database stays the arbiter (version checks, unique indexes), so this only keeps each
person's own taps from overtaking each other and nobody waits behind someone else."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def person_of(update: object) -> int | None:
    """Whose update this is: the person, else the chat; None for updates of nobody."""
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


UNLIMITED = 2**31 - 1


class PerPersonProcessor(BaseUpdateProcessor):
    """At most ``max_concurrent_updates`` updates at once, one at a time per person. A person's
    update waits for their own previous one before it takes one of the shared slots, so one
    person's backlog never holds the slots others need; beyond ``max_waiting`` updates waiting
    for one person, the extra ones are dropped at once (a flood: the gate tells the person once).
    A person's lock exists only while they have an update waiting or running, so memory stays
    flat."""

    def __init__(
        self,
        max_concurrent_updates: int,
        around: Callable[[Update], AbstractAsyncContextManager[Any]] | None = None,
        max_waiting: int = 20,
    ) -> None:
        # PTB's own semaphore is taken before any update waits for its person, so it is set
        # out of reach; the shared slots are ours, taken once it is the update's turn.
        super().__init__(UNLIMITED)
        self.slots = max_concurrent_updates
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        self.around = around
        """Wraps the handling of each update (the processed-updates record, bot.updates)."""
        self.max_waiting = max_waiting
        self.dropped = 0
        """Updates dropped because their person already had ``max_waiting`` waiting."""
        self.on_drop: Callable[[], None] | None = None
        self.observe: Callable[[object, float], None] | None = None
        """Told each update and the seconds from its arrival to the end of its handling (or
        its dropping): the metrics (bot/metrics.py)."""

    def _around(self, update: object) -> AbstractAsyncContextManager[Any]:
        if self.around is not None and isinstance(update, Update):
            return self.around(update)
        return nullcontext()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        started = time.perf_counter()
        try:
            await self._process(update, coroutine)
        finally:
            if self.observe is not None:
                self.observe(update, time.perf_counter() - started)

    async def _process(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = person_of(update)
        if key is None:
            async with self._slots, self._around(update):
                await coroutine
            return
        waiting = self._users.get(key, 0)
        if waiting >= self.max_waiting:
            if inspect.iscoroutine(coroutine):
                coroutine.close()  # never started: nothing to undo
            self.dropped += 1
            if self.on_drop is not None:
                self.on_drop()
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = waiting + 1
        try:
            # asyncio locks are fair: first come, first served. A shared slot is taken only
            # once it is this update's turn.
            async with lock, self._slots, self._around(update):
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    @property
    def people_in_progress(self) -> int:
        return len(self._locks)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
