"""Typed text is read for warning signs in a worker process of its own.

spaCy and medspaCy with every language's warning-sign patterns take about 110 MB and several
seconds to load. In a worker the bot answers from its first second and stays small, and a long
message being read never holds the event loop (or the interpreter lock) while other people
wait. Nothing typed is left unread: a message that arrives while the worker is still loading
waits for it; one message is read at a time, and only the reading itself is timed. When the worker
dies, hangs or cannot start, the message in hand is read in the bot's own process at once and a
new worker is started for the next ones; after ``max_failures`` failures in a row the bot reads
in its own process from then on (it then holds spaCy's memory itself). Every word a worker reads
stays in spaCy's vocabulary for the worker's life (a few kB for each word it had not seen), so
after ``recycle_after`` messages a fresh worker loads beside it and takes over once it is ready:
the bot's memory for reading stays bounded however long it runs.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from bot.findings import Finding
from bot.free_text import Readers
from bot.logging_setup import silence_loguru
from bot.memory import give_back
from bot.safety_net import PatternReader, with_safety_net
from bot.worker import exit_with_parent

log = logging.getLogger(__name__)

_readers: PatternReader | None = None


def build_reader(languages: Iterable[str]) -> PatternReader:
    """Every language's reader, with the classifier that asks about what they miss (or without
    it, if its model cannot be loaded: bot/safety_net.py)."""
    return with_safety_net(Readers(languages))


def _build(languages: tuple[str, ...], parent: int) -> None:
    """The worker's initializer: every language's reader, built once."""
    global _readers
    exit_with_parent(parent)
    silence_loguru()  # medspaCy's loguru would print what it reads to stderr
    _readers = build_reader(languages)
    give_back()  # loading leaves tens of MB of freed heap behind (the safety net's model)


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
        start_timeout: float = 60.0,
        max_failures: int = 3,
        recycle_after: int = 5_000,
    ) -> None:
        self.languages = tuple(languages)
        self.timeout = timeout
        """Longest time one message may take to read in the worker."""
        self.start_timeout = start_timeout
        """Longest wait for the worker to load (spaCy and the patterns)."""
        self.max_failures = max_failures
        """Failures in a row after which the bot reads in its own process for good."""
        self.recycle_after = recycle_after
        """Messages one worker reads before a fresh one takes over (see the module's text)."""
        self._pool: ProcessPoolExecutor | None = None
        self._warming: Future[bool] | None = None
        self._one_at_a_time = asyncio.Lock()
        self._failures = 0
        self._inline: PatternReader | None = None
        self._building: asyncio.Task[PatternReader] | None = None
        self._stay_here = False
        self._next: tuple[ProcessPoolExecutor, Future[bool]] | None = None
        """The fresh worker loading to take over, with its loading."""
        self._read_by_worker = 0
        self.recycled = 0
        """Workers that took over from one that had read ``recycle_after`` messages."""
        self.restarts = 0
        """Workers replaced after dying, hanging or failing to start."""
        self.read_here = 0
        """Messages read in the bot's own process."""

    @property
    def state(self) -> str:
        """``loading``, ``ready``, ``in process`` (the bot reads itself) or ``failed`` (the
        worker could not load: see the log)."""
        if self._stay_here:
            return "in process" if self._inline is not None else "failed"
        warming = self._warming
        if warming is None or not warming.done():
            return "loading"
        if warming.cancelled() or warming.exception() is not None:
            return "failed"
        return "ready"

    @property
    def ready(self) -> bool:
        return self.state in ("ready", "in process")

    def start(self) -> None:
        """Start the worker now, so it loads while the bot starts; reading waits for it."""
        if self._pool is None and not self._stay_here:
            self._spawn()

    def _spawn(self) -> ProcessPoolExecutor:
        self._drop_next()
        pool, self._warming = self._load()
        self._pool = pool
        self._read_by_worker = 0
        return pool

    def _load(self) -> tuple[ProcessPoolExecutor, Future[bool]]:
        """A new worker process, and its loading."""
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_build,
            initargs=(self.languages, os.getpid()),
        )
        warming = pool.submit(_ready)
        warming.add_done_callback(partial(self._report_failed_start, pool))
        return pool, warming

    def _take_over(self) -> None:
        """The fresh worker, once loaded, takes the place of the one that read
        ``recycle_after`` messages (which is stopped: no message is in its hands)."""
        if self._next is None or not self._next[1].done():
            return
        pool, warming = self._next
        self._next = None
        self._read_by_worker = 0  # on a failed start, try again after as many messages
        if warming.cancelled() or warming.exception() is not None:
            log.warning("a fresh text reader worker could not load; the current one reads on")
            self._discard(pool)
            return
        if self._pool is not None:
            self._discard(self._pool)
        self._pool, self._warming = pool, warming
        self.recycled += 1

    def _drop_next(self) -> None:
        if self._next is not None:
            pool, _ = self._next
            self._next = None
            self._discard(pool)

    def _report_failed_start(self, pool: ProcessPoolExecutor, warming: Future[bool]) -> None:
        if pool is not self._pool or warming.cancelled():
            return  # stopped on purpose (replaced or closed)
        exc = warming.exception()
        if isinstance(exc, BrokenProcessPool):
            log.error("the text reader worker stopped while loading")
        elif exc is not None:
            log.error("the text reader could not load: %s: %s", type(exc).__name__, exc)

    async def read(self, text: str) -> tuple[Finding, ...]:
        """The findings in one message."""
        if not self._stay_here:
            async with self._one_at_a_time:
                if not self._stay_here:
                    found = await self._in_worker(text)
                    if found is not None:
                        return found
        return await self._here(text)

    async def _in_worker(self, text: str) -> tuple[Finding, ...] | None:
        """The findings, or None when the worker failed (it is then replaced, or given up)."""
        self._take_over()
        pool = self._pool or self._spawn()
        warming = self._warming
        try:
            if warming is not None:
                # Loading is waited for on its own; only the reading below is timed.
                async with asyncio.timeout(self.start_timeout):
                    await asyncio.shield(asyncio.wrap_future(warming))
            async with asyncio.timeout(self.timeout):
                found = await asyncio.get_running_loop().run_in_executor(pool, _read, text)
        except (TimeoutError, BrokenProcessPool) as exc:
            # The class only: nothing of what was typed.
            log.warning("the text reader worker failed (%s)", type(exc).__name__)
        else:
            self._failures = 0
            self._read_by_worker += 1
            if self._read_by_worker >= self.recycle_after and self._next is None:
                self._next = self._load()  # loads while this worker reads on
            return found
        self._discard(pool)
        self._failures += 1
        self.restarts += 1
        if self._failures >= self.max_failures:
            log.error(
                "the text reader worker failed %s times in a row; reading in the bot's own "
                "process from now on",
                self._failures,
            )
            self._stay_here = True
            self._drop_next()
        else:
            self._spawn()  # loads while the message in hand is read here
        return None

    async def _here(self, text: str) -> tuple[Finding, ...]:
        """Read in the bot's own process (its readers are built once, on first need)."""
        if self._inline is None:
            if self._building is None or (self._building.done() and self._building.exception()):
                self._building = asyncio.create_task(
                    asyncio.to_thread(build_reader, self.languages)
                )
            self._inline = await asyncio.shield(self._building)
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
        """Stop the worker at once, even while it loads (a later read starts a new one)."""
        self._drop_next()
        if self._pool is not None:
            self._discard(self._pool)


_shared: dict[tuple[str, ...], ReaderWorker] = {}


def shared_reader(languages: Iterable[str]) -> ReaderWorker:
    """The process's reader worker for these languages: one per process, however many
    Applications it builds (tests build many)."""
    key = tuple(languages)
    if key not in _shared:
        _shared[key] = ReaderWorker(key)
    return _shared[key]
