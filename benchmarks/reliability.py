"""A long run that tries to break the bot: many people tapping current, stale and forged buttons,
updates delivered twice, odd text and commands, with a share of Bot API calls failing, through
the real Application and the Bot API stand-in over HTTP, on SQLite and PostgreSQL. It counts
updates, unhandled errors, invariant violations and memory, and writes docs/reliability.md.

    python -m benchmarks.reliability                     10,000 updates on each database
    python -m benchmarks.reliability --updates 100000    the long run (hours at ~20 updates/s)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.run import TOKEN, _database, _drop
from bot.app import build_application
from bot.config import Settings
from bot.free_text import reader
from handlers.context import Context
from handlers.escalations import outbox_job
from tests.botapi import BotApiStandIn
from tests.fuzz import ErrorCounter, Fuzzer, invariants
from tests.harness import Harness, ManualClock, Person

ROOT = Path(__file__).parents[1]


def rss_mb() -> float:
    """Resident memory now, in MB (from /proc, so it can go down as well as up)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_one(kind: str, updates: int, people: int, fault_rate: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        url, name = await _database(kind, Path(folder))
        api = BotApiStandIn(TOKEN)
        await api.start()
        settings = Settings(telegram_bot_token=TOKEN, telegram_base_url=api.base_url,
                            telegram_base_file_url=api.base_file_url, database_url=url,
                            telegram_max_messages_per_second=0,
                            flood_max_updates=0)  # fmt: skip
        clock = ManualClock(datetime.now(UTC))
        app = build_application(settings, clock=clock, rate_limit=False)
        bot = Harness(api, app, clock)
        errors = ErrorCounter()
        logging.getLogger().addHandler(errors)
        persons = [Person(600_000 + i, f"R{i}") for i in range(people)]
        fuzz = Fuzzer(bot, persons, random.Random(11))
        violations: list[str] = []
        try:
            async with app:
                await fuzz.onboard()
                api.inject_faults(fault_rate, "sendMessage", "editMessageText",
                                  "answerCallbackQuery", seed=5)  # fmt: skip
                errors.count = 0  # faults during onboarding are not counted
                await asyncio.to_thread(reader, "en")  # built at start-up in production
                memory_start = rss_mb()
                started = time.perf_counter()
                checks = 0
                while fuzz.steps < updates:
                    await fuzz.random_step()
                    if fuzz.steps % 1000 == 0:
                        clock.advance(minutes=5)
                        await outbox_job(Context(app))  # type: ignore[arg-type]
                        violations += await invariants(bot)
                        checks += 1
                elapsed = time.perf_counter() - started
                api.inject_faults(0.0)
                clock.advance(minutes=5)
                await outbox_job(Context(app))  # type: ignore[arg-type]
                violations += await invariants(bot)
                memory_end = rss_mb()
        finally:
            logging.getLogger().removeHandler(errors)
            await app.bot_data["services"].db_engine.dispose()
            await api.stop()
            await _drop(name)
    return {
        "database": kind,
        "updates": fuzz.steps,
        "seconds": round(elapsed, 1),
        "updates_per_second": round(fuzz.steps / elapsed, 1),
        "unhandled_errors": errors.count,
        "invariant_checks": checks + 1,
        "invariant_violations": len(violations),
        "first_violations": violations[:5],
        "memory_start_mb": round(memory_start, 1),
        "memory_end_mb": round(memory_end, 1),
    }


def write(results: list[dict[str, object]], fault_rate: float, people: int) -> Path:
    lines = [
        "# Reliability run",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d} with `python -m benchmarks.reliability` "
        f"(CPython {platform.python_version()}). {people} people; each step is one update: a tap "
        "on the current question (45%), an update delivered again (10%), an old button (10%), "
        "forged or someone else's button data (7%), typed text including NUL bytes and 4,096 "
        f"characters (15%), a command (13%). {fault_rate:.0%} of sendMessage, editMessageText "
        "and answerCallbackQuery calls fail with 500, 502 or 503. The invariants "
        "(tests/fuzz.py) are checked every 1,000 updates and at the end, after the outbox job.",
        "",
        "| database | updates | updates/s | unhandled errors | invariant checks | "
        "violations | memory start MB | memory end MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['database']} | {r['updates']} | {r['updates_per_second']} | "
            f"{r['unhandled_errors']} | {r['invariant_checks']} | {r['invariant_violations']} | "
            f"{r['memory_start_mb']} | {r['memory_end_mb']} |"
        )
    for r in results:
        if r["first_violations"]:
            lines += ["", f"First violations on {r['database']}: {r['first_violations']}"]
    lines += [
        "",
        "An unhandled error is one that reached the error handler (logged at ERROR): with Bot "
        "API calls failing on purpose, a handler whose own reply fails ends there, and the "
        "person gets the generic apology when Telegram takes it. The invariants must hold "
        "regardless. Targets: 0 violations; unhandled errors only from injected faults.",
        "",
        "Alongside: the hypothesis state machine in the test suite (tests/test_state_machine.py) "
        "checks the same invariants after every step with no faults and no error allowed, and "
        "tests/test_crash.py kills the process with SIGKILL mid check-in and finds every "
        "acknowledged answer after the restart.",
        "",
        "Memory is the whole process: the bot, and the Bot API stand-in and the run's own "
        "bookkeeping, which keep every message and call (so some growth is theirs). The free-text "
        "reader is built before the start figure, as it is at start-up in production.",
    ]
    out = ROOT / "docs" / "reliability.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability")
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--faults", type=float, default=0.05)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = [asyncio.run(run_one(kind, args.updates, args.people, args.faults)) for kind in kinds]
    for result in results:
        print(result)
    print(write(results, args.faults, args.people))


if __name__ == "__main__":
    main()
