"""Memory handed back to the system (bot/memory.py): on glibc, free heap memory stays with the
process unless it is trimmed; the bot trims every few minutes, per process."""

from __future__ import annotations

import platform

import pytest

from bot.memory import give_back, limit_arenas
from tests.harness import Harness
from tests.processes import rss_mb

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


@glibc
def test_freed_memory_between_live_blocks_is_handed_back() -> None:
    assert limit_arenas() is True
    blocks = [bytes(10_000) for _ in range(20_000)]  # 200 MB in the malloc heap
    kept = blocks[::10]  # every tenth stays alive, so the heap cannot simply shrink from the top
    del blocks
    before = rss_mb()
    give_back()
    after = rss_mb()
    assert before - after > 100, (before, after)
    assert len(kept) == 2_000


async def test_the_bot_hands_memory_back_on_a_schedule_of_its_own(bot: Harness) -> None:
    assert bot.app.job_queue is not None
    [job] = bot.app.job_queue.get_jobs_by_name("memory")
    interval = bot.services.settings.housekeeping_interval_seconds
    assert job.trigger.interval.total_seconds() == interval  # type: ignore[attr-defined]
    # Per process: not claimed through periodic_runs, so every instance does its own.
    from handlers.app import memory_job

    assert job.callback is memory_job
