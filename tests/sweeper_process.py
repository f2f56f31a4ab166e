"""A reminder sweeper in a process of its own, as a second bot instance would run it.

Used by tests/test_sweep_concurrency.py: ``python -m tests.sweeper_process`` reads the usual
settings from the environment, sweeps until nothing has been due for a while, and exits."""

from __future__ import annotations

import asyncio
import sys

from bot.__main__ import new_event_loop
from bot.config import load_settings
from handlers.app import build_application


async def main() -> int:
    app = build_application(load_settings())
    sweeper = app.bot_data["services"].sweeper
    idle = total = 0
    async with app:
        # Start together with the other instance: say "ready", wait for a line on stdin.
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        while idle < 3:
            handled = await sweeper.run_once()
            total += handled
            idle = 0 if handled else idle + 1
            await asyncio.sleep(0.05)  # the other instance may still hold leases
    await app.bot_data["services"].db_engine.dispose()
    print(f"handled {total}", flush=True)
    return 0


if __name__ == "__main__":
    loop = new_event_loop()  # as `python -m bot run` does
    sys.exit(loop.run_until_complete(main()))
