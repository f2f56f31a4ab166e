"""Many people at once, each person in order: updates from different people are handled
concurrently; one person's updates are handled one after another, in the order they came.
The database stays the arbiter (version checks, unique indexes), so this only keeps each
person's own taps from overtaking each other and nobody waits behind someone else."""

from __future__ import annotations

import asyncio
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


class PerPersonProcessor(BaseUpdateProcessor):
    """At most ``max_concurrent_updates`` updates at once, one at a time per person. A person's
    lock exists only while they have an update waiting or running, so memory stays flat."""

    def __init__(
        self,
        max_concurrent_updates: int,
        around: Callable[[Update], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}
        self.around = around
        """Wraps the handling of each update (the processed-updates record, bot.updates)."""

    def _around(self, update: object) -> AbstractAsyncContextManager[Any]:
        if self.around is not None and isinstance(update, Update):
            return self.around(update)
        return nullcontext()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = person_of(update)
        if key is None:
            async with self._around(update):
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            # asyncio locks are fair: first come, first served
            async with lock, self._around(update):
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
