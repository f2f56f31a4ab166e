"""What every worker process of the bot does (the text reader, the chart drawer)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def exit_with_parent(parent: int) -> None:
    """In a worker: exit once the process that started it (``parent``) is gone, so a bot that
    was killed outright leaves no worker behind."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def kill(pool: ProcessPoolExecutor) -> None:
    """Stop a worker at once, whatever it is doing (its queued work is cancelled)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


async def wound_down(*pools: ProcessPoolExecutor | None) -> None:
    """Wait, in a thread, until stopped workers' executors have wound down: at the interpreter's
    exit, CPython 3.11 may write to the wake-up pipe of an executor that is just closing it and
    print a traceback (seen once in a full run)."""
    for pool in pools:
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True)
