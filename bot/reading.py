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
after ``recycle_after`` messages a fresh worker loads beside it and takes over as soon as it is
ready (between two reads): the memory for reading stays bounded however long the bot runs. Once
the bot reads in its own process, that reader too is rebuilt after as many messages, in a thread,
and replaces the old one as soon as it is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from bot.findings import Finding
from bot.free_text import Readers
from bot.logging_setup import silence_loguru
from bot.memory import give_back
from bot.safety_net import PatternReader, SafetyNet, with_safety_net
from bot.worker import exit_with_parent, kill, wound_down

log = logging.getLogger(__name__)

_readers: PatternReader | None = None


def build_reader(languages: Iterable[str], *, fresh: bool = False) -> PatternReader:
    """Every language's reader, with the classifier that asks about what they miss (or without
    it, if its model cannot be loaded: bot/safety_net.py). ``fresh``: built anew, not the
    process's readers and model (built once and kept, with every word they have read)."""
    return with_safety_net(Readers(languages, fresh=fresh), fresh=fresh)


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
        self._rebuilding: asyncio.Task[PatternReader] | None = None
        """A fresh reader in the bot's own process, built after ``recycle_after`` messages."""
        self._read_inline = 0
        self._stay_here = False
        self._next: tuple[ProcessPoolExecutor, Future[bool], float] | None = None
        """The fresh worker loading to take over, with its loading and when it started."""
        self._handing_over: asyncio.Task[None] | None = None
        self._generation = 0
        """Moves on at each ``close``: a read that spanned it starts no worker."""
        self._read_by_worker = 0
        self.recycled = 0
        """Workers (or readers in the bot's own process) that took over from one that had read
        ``recycle_after`` messages."""
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
        pool, warming = self._load()
        self._use(pool, warming)
        return pool

    def _use(self, pool: ProcessPoolExecutor, warming: Future[bool]) -> None:
        """Read with this worker from now on (its share of messages starts afresh)."""
        self._pool, self._warming = pool, warming
        self._read_by_worker = 0

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

    def _prepare_next(self) -> None:
        """Start the fresh worker; once loaded, it takes over at once (between two reads)."""
        pool, warming = self._load()
        self._next = (pool, warming, time.monotonic())
        loop = asyncio.get_running_loop()

        def loaded(_: Future[bool]) -> None:  # in the executor's thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: the bot is stopping
                loop.call_soon_threadsafe(self._hand_over_soon, pool)

        warming.add_done_callback(loaded)

    def _hand_over_soon(self, pool: ProcessPoolExecutor) -> None:
        if self._next is not None and self._next[0] is pool:
            self._handing_over = asyncio.ensure_future(self._hand_over())

    async def _hand_over(self) -> None:
        async with self._one_at_a_time:  # never while a message is in the old worker's hands
            self._take_over()

    def _take_over(self) -> None:
        """The fresh worker, once loaded, takes the place of the one that read
        ``recycle_after`` messages (which is stopped: no message is in its hands). One that
        failed to load, or takes longer than ``start_timeout``, is given up; another is tried
        after as many messages again."""
        if self._next is None:
            return
        pool, warming, started = self._next
        if not warming.done():
            if time.monotonic() - started > self.start_timeout:
                log.warning("a fresh text reader worker did not load in time; the old one reads on")
                self._drop_next()
                self._read_by_worker = 0
            return
        self._next = None
        failure = _failure(warming)
        if failure is not None:
            log.warning(
                "a fresh text reader worker could not load (%s); the old one reads on", failure
            )
            self._discard(pool)
            self._read_by_worker = 0  # another try after as many messages
            return
        if self._pool is not None:
            self._discard(self._pool)
        self._use(pool, warming)
        self.recycled += 1

    def _promote_next(self) -> bool:
        """After the worker failed: the fresh one, if one is loading already, takes its place."""
        if self._next is None:
            return False
        pool, warming, _ = self._next
        self._next = None
        self._use(pool, warming)
        return True

    def _drop_next(self) -> None:
        if self._next is not None:
            pool = self._next[0]
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
        generation = self._generation
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
            due = self._read_by_worker >= self.recycle_after
            if due and self._next is None and generation == self._generation:
                self._prepare_next()  # loads while this worker reads on
            return found
        self._discard(pool)
        if generation != self._generation:
            return None  # closed meanwhile: read here, start nothing
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
        elif not self._promote_next():
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
        self._swap_rebuilt()
        reader = self._inline
        self.read_here += 1
        self._read_inline += 1
        if self._read_inline >= self.recycle_after and self._rebuilding is None:
            build = partial(build_reader, self.languages, fresh=True)
            self._rebuilding = asyncio.create_task(asyncio.to_thread(build))
            self._rebuilding.add_done_callback(_retrieved)
        return await asyncio.to_thread(reader.read, text)

    def _swap_rebuilt(self) -> None:
        """The reader rebuilt in the bot's own process, once built, replaces the one that read
        ``recycle_after`` messages (a read still under way finishes with the old one)."""
        task = self._rebuilding
        if task is None or not task.done():
            return
        self._rebuilding = None
        self._read_inline = 0  # a failed rebuild is tried again after as many messages
        failure = _failure(task)
        if failure is not None:
            log.warning("the text reader could not be rebuilt (%s); the old one reads on", failure)
            return
        fresh = task.result()
        if not isinstance(fresh, SafetyNet) and isinstance(self._inline, SafetyNet):
            log.warning("the rebuilt text reader has no safety net; the old one reads on")
            return
        self._inline = fresh
        self.recycled += 1
        give_back()

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if pool is self._pool:
            self._pool = None
            self._warming = None
        kill(pool)

    def pid(self) -> int | None:
        """The worker's process id, while one runs (for the tests and the benchmarks)."""
        processes = getattr(self._pool, "_processes", None) or {}
        for process in processes.values():
            return int(process.pid)
        return None

    async def finish(self) -> None:
        """``close``, then wait until the stopped workers have wound down (bot/worker.py)."""
        pools = (self._pool, self._next[0] if self._next is not None else None)
        self.close()
        await wound_down(*pools)

    def close(self) -> None:
        """Stop the worker at once, even while it loads (a later read starts a new one)."""
        self._generation += 1
        self._rebuilding = None  # a rebuild under way finishes in its thread, unused
        self._drop_next()
        if self._pool is not None:
            self._discard(self._pool)


def _failure(done: Future[bool] | asyncio.Task[PatternReader]) -> str | None:
    """Why a finished loading or rebuild failed (the exception's class, never its message: it
    could hold what was typed), or None if it did not."""
    if done.cancelled():
        return "cancelled"
    exc = done.exception()
    return None if exc is None else type(exc).__name__


def _retrieved(task: asyncio.Task[PatternReader]) -> None:
    """A rebuild's failure is reported when it is swapped in (or not at all after ``close``),
    never as an exception nobody retrieved."""
    if not task.cancelled():
        task.exception()


_shared: dict[tuple[str, ...], ReaderWorker] = {}


def shared_reader(languages: Iterable[str]) -> ReaderWorker:
    """The process's reader worker for these languages: one per process, however many
    Applications it builds (tests build many)."""
    key = tuple(languages)
    if key not in _shared:
        _shared[key] = ReaderWorker(key)
    return _shared[key]
