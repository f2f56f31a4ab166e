"""Typed text is read for warning signs in a worker process of its own.

spaCy and medspaCy with every language's warning-sign patterns take about 110 MB and several
seconds to load. In a worker the bot answers from its first second and stays small, and a long
message being read never holds the event loop (or the interpreter lock) while other people
wait. Nothing typed is left unread: a message that arrives while the worker is still loading
waits for it; a worker that dies is started again; if it fails twice in a row, the message is
read in the bot's own process (slower to start, never skipped).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.findings import Finding
from bot.free_text import Readers
from bot.logging_setup import silence_loguru

log = logging.getLogger(__name__)

_readers: Readers | None = None


def exit_with_parent() -> None:
    """In a worker: exit once the process that started it is gone (a SIGKILLed bot leaves no
    worker behind)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _build(languages: tuple[str, ...]) -> None:
    """The worker's initializer: every language's reader, built once."""
    global _readers
    exit_with_parent()
    silence_loguru()  # medspaCy's loguru would print what it reads to stderr
    _readers = Readers(languages)


def _ready() -> bool:
    return _readers is not None


def _read(text: str) -> tuple[Finding, ...]:
    if _readers is None:  # pragma: no cover - the initializer ran before any task
        raise RuntimeError("the reader was not built")
    return _readers.read(text)


class ReaderWorker:
    """One worker process with every language's reader; messages are read one at a time, in
    the order they came (reading takes milliseconds)."""

    def __init__(
        self,
        languages: Iterable[str],
        *,
        timeout: float = 10.0,
        start_timeout: float = 120.0,
    ) -> None:
        self.languages = tuple(languages)
        self.timeout = timeout
        """Longest wait for one message once the worker is ready."""
        self.start_timeout = start_timeout
        """Longest wait while the worker is still loading (spaCy and the patterns)."""
        self._pool: ProcessPoolExecutor | None = None
        self._warming: Future[bool] | None = None
        self._inline: Readers | None = None
        self.restarts = 0
        self.read_here = 0
        """Messages read in the bot's own process because the worker failed twice."""

    @property
    def ready(self) -> bool:
        """Whether the worker has finished loading (or the bot reads in its own process)."""
        warming = self._warming
        return self._inline is not None or (
            warming is not None and warming.done() and not warming.cancelled()
            and warming.exception() is None
        )  # fmt: skip

    def start(self) -> None:
        """Start the worker now, so it loads while the bot starts; reading waits for it."""
        if self._pool is None:
            self._spawn()

    def _spawn(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_build,
            initargs=(self.languages,),
        )
        self._pool = pool
        self._warming = pool.submit(_ready)
        return pool

    async def read(self, text: str) -> tuple[Finding, ...]:
        """The findings in one message."""
        if self._inline is not None:
            return await asyncio.to_thread(self._inline.read, text)
        loop = asyncio.get_running_loop()
        for _attempt in (1, 2):
            pool = self._pool or self._spawn()
            limit = self.timeout if self.ready else self.start_timeout
            try:
                async with asyncio.timeout(limit):
                    return await loop.run_in_executor(pool, _read, text)
            except (TimeoutError, BrokenProcessPool) as exc:
                log.warning("the text reader worker failed (%s); starting it again",
                            type(exc).__name__)  # fmt: skip
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this update itself is being cancelled
                log.warning("the text reader worker was stopped; starting it again")
            self._discard(pool)
            self.restarts += 1
        # Twice in a row: read here from now on. Slower to start, but no message goes unread.
        log.error("the text reader worker failed twice; reading in the bot's own process")
        self._inline = await asyncio.to_thread(Readers, self.languages)
        self.read_here += 1
        return await asyncio.to_thread(self._inline.read, text)

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if pool is self._pool:
            self._pool = None
            self._warming = None
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def pid(self) -> int | None:
        """The worker's process id, while one runs (for the tests and the benchmarks)."""
        processes = getattr(self._pool, "_processes", None) or {}
        for process in processes.values():
            return int(process.pid)
        return None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self._warming = None


_shared: dict[tuple[str, ...], ReaderWorker] = {}


def shared_reader(languages: Iterable[str]) -> ReaderWorker:
    """The process's reader worker for these languages: one per process, however many
    Applications it builds (tests build many)."""
    key = tuple(languages)
    if key not in _shared:
        _shared[key] = ReaderWorker(key)
    return _shared[key]
