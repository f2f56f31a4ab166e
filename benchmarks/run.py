"""Benchmarks: answers per second, reminders per second, and start-up and memory against the
number of patients. Results go to benchmarks/results.md; nothing here asserts timings.

    python -m benchmarks.run                 SQLite and the local PostgreSQL
    python -m benchmarks.run --db sqlite

It uses the real Application and the Bot API stand-in from tests/ over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from pydantic import SecretStr
from sqlalchemy import insert

from bot.config import Settings
from db.migrate import upgrade
from db.models import ReminderRule, User
from db.session import create_engine, create_sessionmaker
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.harness import Harness, ManualClock, Person

ROOT = Path(__file__).parents[1]
TOKEN = "123456:benchmark-token"
PG_ADMIN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _database(kind: str, folder: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        await asyncio.to_thread(upgrade, url)
        return url, None
    name = f"msbot_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    await asyncio.to_thread(upgrade, url)
    return url, name


async def _drop(name: str | None) -> None:
    if name:
        connection = await asyncpg.connect(PG_ADMIN)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def _seed(url: str, people: int, due: datetime) -> None:
    engine = create_engine(url)
    now = datetime.now(UTC)
    async with create_sessionmaker(engine).begin() as session:
        for start in range(0, people, 5000):
            ids = range(start + 1, min(people, start + 5000) + 1)
            await session.execute(
                insert(User),
                [
                    {"id": i, "telegram_id": 10_000_000 + i, "chat_id": 10_000_000 + i,
                     "language": "en", "timezone": "Europe/Berlin", "created_at": now,
                     "consent_at": now}
                    for i in ids
                ],
            )  # fmt: skip
            await session.execute(
                insert(ReminderRule),
                [
                    {"user_id": i, "times": ["09:00"], "weekdays": 127,
                     "timezone": "Europe/Berlin", "active": True, "next_due_at": due,
                     "fire_at": due, "nudge_minutes": 0, "updated_at": now}
                    for i in ids
                ],
            )  # fmt: skip
    await engine.dispose()


async def answers_per_second(url: str, people: int = 40) -> dict[str, float]:
    """Full check-ins (score, place, done, feeling, done, no symptom, no warning sign: seven
    taps) through the real Application, each Bot API call over HTTP to the stand-in."""
    api = BotApiStandIn(TOKEN)
    await api.start()
    settings = Settings(telegram_bot_token=SecretStr(TOKEN), telegram_base_url=api.base_url,
                        database_url=url, telegram_max_messages_per_second=0,
                        flood_max_updates=0)  # fmt: skip
    app = build_application(settings, clock=ManualClock(datetime.now(UTC)))
    bot = Harness(api, app, app.bot_data["services"].clock)
    persons = [Person(900_000 + i, f"B{i}") for i in range(people)]
    async with app:
        for person in persons:
            await bot.send(person, "/start")
            await bot.press(person, "Yes, that's OK", "Berlin", "No", "No", "No", "Not now")
        started = time.perf_counter()
        for person in persons:
            await bot.send(person, "/checkin")
            await bot.press(person, "5", "Lower back", "Done ▶", "Burning", "Done ▶",
                            "None of these", "None of these")  # fmt: skip
        elapsed = time.perf_counter() - started
    await app.bot_data["services"].db_engine.dispose()
    await api.stop()
    updates = people * 8
    return {"updates": updates, "seconds": elapsed, "updates_per_second": updates / elapsed}


async def reminders_per_second(url: str, people: int = 2000) -> dict[str, float]:
    """One sweeper sending ``people`` due reminders, Telegram's rate limit turned off (the
    stand-in has none), to see the capacity above the 30/s that Telegram allows."""
    await _seed(url, people, datetime.now(UTC) - timedelta(minutes=1))
    api = BotApiStandIn(TOKEN)
    await api.start()
    settings = Settings(telegram_bot_token=SecretStr(TOKEN), telegram_base_url=api.base_url,
                        database_url=url, telegram_max_messages_per_second=0)  # fmt: skip
    app = build_application(settings)
    sweeper = app.bot_data["services"].sweeper
    async with app:
        started = time.perf_counter()
        sent = 0
        while True:
            handled = await sweeper.run_once()
            if not handled:
                break
            sent += handled
        elapsed = time.perf_counter() - started
    await app.bot_data["services"].db_engine.dispose()
    await api.stop()
    delivered = len([c for c in api.calls_of("sendMessage") if c.ok])
    return {"reminders": delivered, "seconds": elapsed, "per_second": delivered / elapsed}


def footprint(url: str, people: int) -> dict[str, float]:
    """Start-up time and peak memory of a process that builds the bot and runs one sweep job
    tick with nothing due, with ``people`` patients (and reminder rules) in the database."""
    asyncio.run(_seed(url, people, datetime.now(UTC) + timedelta(days=1)))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.footprint"],
        env={**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN},
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def _run_async(kind: str, folder: Path) -> dict[str, object]:
    results: dict[str, object] = {}
    url, name = await _database(kind, folder)
    try:
        results["answers"] = await answers_per_second(url)
    finally:
        await _drop(name)
    url, name = await _database(kind, folder)
    try:
        results["sweep"] = await reminders_per_second(url)
    finally:
        await _drop(name)
    return results


def run(kind: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        results = asyncio.run(_run_async(kind, Path(folder)))
        sizes = {}
        for people in (100, 20_000):
            url, name = asyncio.run(_database(kind, Path(folder)))
            try:
                sizes[people] = footprint(url, people)
            finally:
                asyncio.run(_drop(name))
        results["footprint"] = sizes
    return results


def write(all_results: dict[str, dict[str, object]]) -> Path:
    lines = [
        "# Benchmark results",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d} with `python -m benchmarks.run` "
        f"({platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores). Bot API: the stand-in from tests/ over HTTP on 127.0.0.1.",
        "",
        "| database | check-in updates/s (7 taps + command, real Application) "
        "| reminders/s (one sweeper, no rate limit) "
        "| start-up s / peak MB, 100 patients | start-up s / peak MB, 20,000 patients |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind, result in all_results.items():
        answers = result["answers"]
        sweep = result["sweep"]
        small, large = result["footprint"][100], result["footprint"][20_000]  # type: ignore[index]
        lines.append(
            f"| {kind} | {answers['updates_per_second']:.0f} "  # type: ignore[index]
            f"| {sweep['per_second']:.0f} "  # type: ignore[index]
            f"| {small['startup_seconds']:.2f} / {small['peak_mb']:.0f} "
            f"| {large['startup_seconds']:.2f} / {large['peak_mb']:.0f} |"
        )
    lines += [
        "",
        "Telegram lets a bot send about 30 messages/s: the sweep is throttled to that in",
        "production (`TELEGRAM_MAX_MESSAGES_PER_SECOND`); the figure above is the headroom",
        "without the limit.",
        "Start-up and memory do not grow with the number of patients: the schedule is rows in the",
        "database, swept by one job, never one job per patient.",
        "",
    ]
    path = Path(__file__).with_name("results.md")
    path.write_text("\n".join(lines))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    results = {kind: run(kind) for kind in kinds}
    print(json.dumps(results, indent=2, default=str))
    print(f"written to {write(results)}")


if __name__ == "__main__":
    main()
