"""Measured in a process of its own by benchmarks/run.py: build the bot, run one sweep tick,
print start-up seconds and peak memory as JSON."""

from __future__ import annotations

import asyncio
import json
import resource
import time

from bot.config import load_settings
from handlers.app import build_application
from tests.botapi import BotApiStandIn


async def main() -> None:
    started = time.perf_counter()
    settings = load_settings()
    api = BotApiStandIn(settings.token())
    await api.start()
    settings = settings.model_copy(update={"telegram_base_url": api.base_url})
    app = build_application(settings)
    async with app:
        await app.bot_data["services"].sweeper.run_once()
        jobs = len(app.job_queue.jobs()) if app.job_queue else 0
        startup = time.perf_counter() - started
    await app.bot_data["services"].db_engine.dispose()
    await api.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"startup_seconds": startup, "peak_mb": peak_mb, "jobs": jobs}))


if __name__ == "__main__":
    asyncio.run(main())
