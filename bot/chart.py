"""The history chart, drawn in a worker process of its own.

matplotlib takes about 2 s to import and keeps 50-80 MB for good; drawing one chart takes about
0.1 s of CPU. So the bot never imports it: ``bot.history.chart_spec`` turns a period into a
:class:`ChartSpec` (plain data: titles, points, bars), and :class:`ChartWorker` has it drawn by
:func:`render` in a separate process, started on the first chart and kept for the next ones. The
bot's own memory stays flat, and its event loop is never busy drawing. The worker is replaced
after ``max_tasks`` charts (so any slow growth inside matplotlib is given back), started again if
it dies, and killed if a chart takes longer than ``timeout``."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.worker import exit_with_parent, kill, wound_down


class ChartUnavailable(RuntimeError):
    """No chart this time: the worker stopped while drawing it."""


@dataclass(frozen=True)
class Marked:
    """Check-ins that led to advice of one tier, drawn as triangles over the pain line."""

    colour: str
    label: str
    times: tuple[datetime, ...]
    pains: tuple[int, ...]


@dataclass(frozen=True)
class ChartSpec:
    """Everything the chart shows, already in the person's language: picklable, no catalog."""

    pain_title: str
    times: tuple[datetime, ...]  # local, naive
    pains: tuple[int, ...]
    marked: tuple[Marked, ...]
    start: datetime
    end: datetime
    empty_text: str | None
    """Shown in the middle when there are no check-ins in the period."""
    where_title: str
    places: tuple[str, ...]
    counts: tuple[int, ...]
    language: str = "en"
    """For the dates on the time axis ("2 Mar", "2. März"), written by Babel, not strftime."""


def render(spec: ChartSpec) -> bytes:
    """Draw the chart as PNG bytes: pain over time (advice marked), and how often each place was
    reported. Runs in the worker process."""
    buffer = io.BytesIO()
    figure(spec).savefig(buffer, format="png")
    return buffer.getvalue()


def figure(spec: ChartSpec) -> Any:
    """The chart as a matplotlib Figure (``render`` saves it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import num2date
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from bot import locale

    drawn = Figure(figsize=(8, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(drawn)
    pain_ax, where_ax = drawn.subplots(2, 1, height_ratios=(3, 2))
    pain_ax.plot(
        list(spec.times), list(spec.pains), marker="o", color="#3465a4", linewidth=1.5,
        markersize=4,
    )  # fmt: skip
    for marked in spec.marked:
        pain_ax.scatter(list(marked.times), list(marked.pains), s=120, marker="^",
                        color=marked.colour, zorder=3, label=marked.label)  # fmt: skip
    pain_ax.set_xlim(spec.start, spec.end)
    pain_ax.set_ylim(-0.5, 10.5)
    pain_ax.set_yticks(range(0, 11, 2))
    pain_ax.set_title(spec.pain_title)
    pain_ax.grid(alpha=0.3)
    if spec.marked:
        pain_ax.legend(loc="upper left")
    if spec.empty_text:
        pain_ax.text(0.5, 0.5, spec.empty_text, ha="center", transform=pain_ax.transAxes)

    def axis_day(x: float, _: object) -> str:
        return locale.day_month(num2date(x), spec.language)  # type: ignore[no-untyped-call]

    pain_ax.xaxis.set_major_formatter(FuncFormatter(axis_day))
    pain_ax.tick_params(axis="x", labelrotation=30)
    where_ax.barh(list(spec.places), list(spec.counts), color="#73d216")
    where_ax.invert_yaxis()
    where_ax.set_title(spec.where_title)
    where_ax.xaxis.get_major_locator().set_params(integer=True)
    return drawn


def _warm_up(parent: int) -> None:
    """Import matplotlib in a new worker, so the first chart does not wait for it; exit with
    the bot."""
    exit_with_parent(parent)
    import matplotlib.figure  # noqa: F401


class ChartWorker:
    """One worker process that draws charts, one at a time, in the order asked."""

    def __init__(self, max_tasks: int = 500, timeout: float = 30.0) -> None:
        self._max_tasks = max_tasks
        self._timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._drawn = 0

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_warm_up,
            initargs=(os.getpid(),),
        )
        self._drawn = 0
        return self._pool

    async def draw(self, spec: ChartSpec) -> bytes:
        """The chart as PNG bytes. A worker that died is started again once; one that takes
        longer than the timeout is killed (TimeoutError): nobody waits for a chart forever."""
        return await self.run(render, spec)

    async def run(self, work: Callable[[Any], bytes], spec: Any) -> bytes:
        """``work(spec)`` in the worker process (a module-level function and plain data, both
        picklable): a chart, or a document with a chart in it (bot/export_pdf.py)."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            pool = self._pool or self._start()
            try:
                async with asyncio.timeout(self._timeout):
                    png = await loop.run_in_executor(pool, work, spec)
            except TimeoutError:
                self._discard(pool)
                raise
            except (BrokenProcessPool, asyncio.CancelledError) as exc:
                task = asyncio.current_task()
                if isinstance(exc, asyncio.CancelledError) and task and task.cancelling():
                    raise  # this update itself is being cancelled
                # The worker died, or another chart's timeout stopped it with this one queued
                # (its future is cancelled, not this task): a fresh worker, once.
                self._discard(pool)
                if attempt == 2:
                    raise ChartUnavailable("the chart worker stopped twice") from None
                continue
            self._drawn += 1
            if self._drawn >= self._max_tasks and pool is self._pool:
                # A fresh worker from time to time: any slow growth in matplotlib is given back.
                self._pool = None
                pool.shutdown(wait=False)
            return png
        raise AssertionError("unreachable")

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if pool is self._pool:
            self._pool = None
        kill(pool)

    async def finish(self) -> None:
        """``close``, then wait until the worker has wound down (bot/worker.py)."""
        pool = self._pool
        self.close()
        await wound_down(pool)

    def close(self) -> None:
        """Stop the worker (it is started again by the next chart)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_shared: ChartWorker | None = None


def shared_worker() -> ChartWorker:
    """The process's chart worker: one per process, however many Applications it builds."""
    global _shared
    if _shared is None:
        _shared = ChartWorker()
    return _shared
