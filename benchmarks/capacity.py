"""Capacity at the morning peak, each figure beside a baseline measured in the same run. Writes
docs/benchmarks.md; asserts nothing.

    python -m benchmarks.capacity                  every part, SQLite and PostgreSQL
    python -m benchmarks.capacity --quick          small sizes, to try it out
    python -m benchmarks.capacity --parts taps,latency,reminders,startup
    python -m benchmarks.capacity --parts profile   where a tap's time goes (pyinstrument)

The Bot API stand-in runs in a process of its own (benchmarks/standin_server.py), so what is
measured here is the bot. The parts:

- **taps**: 200 patients check in at once (7 taps each, as fast as the bot answers) through the
  real Application and its per-person processor. Baselines: a bare PTB Application on the same
  transport and processor whose handler answers the button and edits the message (no database);
  the raw database driver running the tap's three statements in one transaction; the raw HTTP
  client making the tap's two Bot API calls.
- **latency**: 500 patients check in at once, a tap every 1-3 s each, the stand-in answering
  every call after 50 ms as Telegram does: time from a tap to its edited question. Baseline: the
  bare PTB Application under the same load.
- **reminders**: 100,000 due on PostgreSQL, the rate limit off, swept by 1 and by 2 bot processes
  (``tests/sweeper_process.py``); each must be sent once. Baseline: the raw HTTP client sending as
  many messages. Then 6,000 due with the default limit (30/s).
- **startup**: ``python -m bot run`` itself, timer started before the process (so the imports
  count), until its first getUpdates, and its memory then and after 100 /history charts, at
  1,000 and 1,000,000 patients (PostgreSQL). Baseline: a bare PTB bot started the same way. And
  the claim of a 500-row batch among 1,000,000 schedules, with and without fillfactor 70.
- **profile** (only when named): the one-at-a-time taps on PostgreSQL and the bare PTB
  baseline's, sampled by pyinstrument (``pip install -e '.[dev,bench]'``): where a tap's time
  goes, by package and by function. (py-spy was tried first: in containers like the ones these
  benchmarks ran in it counted threads blocked on a queue as busy.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from pydantic import SecretStr
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from benchmarks.reliability import StandIn
from benchmarks.run import TOKEN, _database, _drop, _seed
from bot.__main__ import new_event_loop
from bot.config import Settings
from bot.transport import AiohttpRequest
from db.repo import reminders as reminder_repo
from db.session import create_engine, create_sessionmaker
from handlers.app import build_application
from handlers.callback_data import CheckinTap, encode
from handlers.ordering import PerPersonProcessor
from tests.processes import children_of, has_loaded

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
RAW = ROOT / "benchmarks" / "capacity.json"
"""Every figure of the last run of each part, as measured."""
BOT_ID = 123456
TAPS = (
    ("pain", "5"),
    ("where", "+lower"),
    ("where", ">"),
    ("feel", "+burning"),
    ("feel", ">"),
    ("symptoms", "none"),
    ("warning", "none"),
)
"""A whole check-in: pain 5, lower back, burning, no other symptom, no warning sign."""
FIRST_ID = 70_000_000
PROFILE_INTERVAL = 0.0005
"""pyinstrument's sampling interval, s."""
OWN_CODE = {"bot", "db", "handlers", "content"}
TOP_FUNCTIONS = 12
KEPT = "## Where the time goes"
"""The part of docs/benchmarks.md from this heading on is kept when the page is written."""


def cpu() -> float:
    return time.process_time()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def person(i: int) -> dict[str, Any]:
    return {"id": FIRST_ID + i, "is_bot": False, "first_name": f"P{i}", "language_code": "en"}


def chat(i: int) -> dict[str, Any]:
    return {"id": FIRST_ID + i, "type": "private", "first_name": f"P{i}"}


class Updates:
    """Updates as Telegram sends them, with increasing ids."""

    def __init__(self) -> None:
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def command(self, i: int, command: str) -> dict[str, Any]:
        message = {
            "message_id": self._id(),
            "date": int(time.time()),
            "chat": chat(i),
            "from": person(i),
            "text": command,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
        return {"update_id": self._id(), "message": message}

    def text(self, i: int, typed: str) -> dict[str, Any]:
        message = {
            "message_id": self._id(),
            "date": int(time.time()),
            "chat": chat(i),
            "from": person(i),
            "text": typed,
        }
        return {"update_id": self._id(), "message": message}

    def tap(self, i: int, data: str, message_id: int, text_: str = "Question") -> dict[str, Any]:
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat(i),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"},
            "text": text_,
        }
        query = {
            "id": f"{FIRST_ID + i}:{self._id()}",
            "from": person(i),
            "chat_instance": "ci",
            "data": data,
            "message": message,
        }
        return {"update_id": self._id(), "callback_query": query}


async def seed_people(url: str, people: int) -> None:
    """People who have agreed, chosen a time zone and answered the profile questions."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    async with create_sessionmaker(engine).begin() as session:
        await session.execute(
            text(
                "INSERT INTO users (id, telegram_id, chat_id, language, timezone, created_at, "
                "consent_at, bone_risk, immunosuppressed, cancer_history, profile_at) "
                "VALUES (:id, :tg, :tg, 'en', 'Europe/Berlin', :now, :now, false, false, "
                "false, :now)"
            ),
            [{"id": i + 1, "tg": FIRST_ID + i, "now": now} for i in range(people)],
        )
    await engine.dispose()


def settings_for(url: str, standin: StandIn, **more: Any) -> Settings:
    return Settings(
        telegram_bot_token=SecretStr(TOKEN),
        telegram_base_url=standin.base_url,
        telegram_base_file_url=standin.base_file_url,
        database_url=url,
        telegram_max_messages_per_second=0,
        flood_max_updates=0,
        **more,
    )


async def question_of(standin: StandIn, i: int) -> tuple[int, int]:
    """(message id, check-in id) of the question on a person's screen."""
    async with standin.http.get(f"/control/chat/{FIRST_ID + i}") as response:
        messages = await response.json()
    for message in reversed(messages):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                data = str(button.get("callback_data", ""))
                if data.startswith("c:"):
                    return int(message["message_id"]), int(data.split(":")[1])
    raise RuntimeError(f"no check-in question for person {i}: {messages[-1:]}")


Processor = Callable[[dict[str, Any]], Awaitable[None]]


async def drive(
    process: Processor,
    people: int,
    taps_of: Callable[[int], list[dict[str, Any]]],
    think: tuple[float, float] | None,
) -> dict[str, Any]:
    """Every person's taps, all people at once, each tap after the last one was answered (and a
    think time, if given). Taps per second, CPU per tap, latency."""
    latencies: list[float] = []
    rng = random.Random(1)

    async def one(i: int) -> None:
        if think:
            await asyncio.sleep(rng.uniform(0, think[1]))
        for update in taps_of(i):
            started = time.perf_counter()
            await process(update)
            latencies.append(time.perf_counter() - started)
            if think:
                await asyncio.sleep(rng.uniform(*think))

    cpu_start, wall_start = cpu(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(people)))
    wall, spent = time.perf_counter() - wall_start, cpu() - cpu_start
    return {
        "taps": len(latencies),
        "taps_per_s": round(len(latencies) / wall, 1),
        "cpu_ms_per_tap": round(1000 * spent / len(latencies), 2),
        "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "max_ms": round(1000 * max(latencies), 1),
    }


def processor(app: Any) -> Processor:
    """Feed one update (as JSON) to ``app`` through its update processor, as polling does."""

    async def process(data: dict[str, Any]) -> None:
        update = Update.de_json(data, app.bot)
        await app.update_processor.process_update(update, app.process_update(update))

    return process


def checkin_taps(
    updates: Updates, i: int, questions: list[tuple[int, int]]
) -> list[dict[str, Any]]:
    """Person ``i``'s taps through a whole check-in (``TAPS``) on their question."""
    message_id, checkin_id = questions[i]
    return [
        updates.tap(i, encode(CheckinTap(checkin_id, step, option)), message_id)
        for step, option in TAPS
    ]


async def bot_taps(
    kind: str, folder: Path, people: int, think: tuple[float, float] | None, latency: float
) -> dict[str, Any]:
    """The real Application: people seeded, each /checkin sent (not measured), then the taps."""
    url, name = await _database(kind, folder)
    standin = await StandIn.start("--quiet", "--latency", str(latency))
    try:
        await seed_people(url, people)
        app = build_application(settings_for(url, standin))
        updates = Updates()
        process = processor(app)
        async with app:
            await asyncio.gather(*(process(updates.command(i, "/checkin")) for i in range(people)))
            questions = [await question_of(standin, i) for i in range(people)]
            result = await drive(
                process, people, lambda i: checkin_taps(updates, i, questions), think
            )
            async with app.bot_data["services"].sessions() as session:
                done = await session.scalar(
                    text("SELECT count(*) FROM checkins WHERE status = 'complete'")
                )
            result["check_ins_complete"] = int(done or 0)
        await app.bot_data["services"].db_engine.dispose()
        return result
    finally:
        await standin.stop()
        await _drop(name)


async def tap_costs(kind: str, folder: Path, people: int, profile: bool = False) -> dict[str, Any]:
    """CPU of each tap of a check-in, one tap at a time (nothing else running): which taps
    cost what. The last one ends the check-in (its answers, history, snippets, the summary).
    With ``profile``, the taps are sampled (:class:`Sampled`) and the profile is returned too."""
    url, name = await _database(kind, folder)
    standin = await StandIn.start("--quiet", "--latency", "0")
    try:
        await seed_people(url, people)
        app = build_application(settings_for(url, standin))
        updates = Updates()
        process = processor(app)
        async with app:
            for i in range(people):
                await process(updates.command(i, "/checkin"))
            questions = [await question_of(standin, i) for i in range(people)]
            spent = [0.0] * len(TAPS)
            async with sampled(profile) as sampler:
                for i in range(people):
                    for k, data in enumerate(checkin_taps(updates, i, questions)):
                        started = cpu()
                        await process(data)
                        spent[k] += cpu() - started
        await app.bot_data["services"].db_engine.dispose()
        result: dict[str, Any] = {
            f"{step} {option}": round(1000 * t / people, 2)
            for (step, option), t in zip(TAPS, spent, strict=True)
        }
        result["mean"] = round(1000 * sum(spent) / people / len(TAPS), 2)
        if sampler is not None:
            result["profile"] = {**sampler.read(), "cpu_s": round(sum(spent), 3)}
        return result
    finally:
        await standin.stop()
        await _drop(name)


class Sampled:
    """pyinstrument sampling this process's main thread (where the event loop runs every
    coroutine) while the measured taps run; the set-up is not sampled. The event loop's wait for
    I/O is counted apart: with uvloop the innermost Python frame then is the one that started
    the loop (:func:`main`)."""

    def __init__(self) -> None:
        self.profiler: Any = None

    async def __aenter__(self) -> Sampled:
        from pyinstrument import Profiler  # only for this part: pip install -e '.[bench]'

        self.profiler = Profiler(interval=PROFILE_INTERVAL, async_mode="disabled")
        self.profiler.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        self.profiler.stop()

    def read(self) -> dict[str, Any]:
        """Own time by the package of the innermost Python frame (native code counts as the
        Python function that called it), and the busiest functions."""
        by_package: Counter[str] = Counter()
        by_function: Counter[str] = Counter()
        waiting = 0.0
        stack = [self.profiler.last_session.root_frame()]
        while stack:
            frame = stack.pop()
            stack.extend(frame.children)
            own = frame.total_self_time
            if not own or frame.is_synthetic:
                continue
            path = frame.file_path or ""
            if frame.function == "main" and path == __file__:
                waiting += own
                continue
            by_package[package_of(path)] += own
            by_function[f"{frame.function} ({shorter(path)})"] += own
        total = sum(by_package.values()) or 1.0  # nothing sampled: empty shares
        return {
            "sampled_s": round(total, 3),
            "waiting_s": round(waiting, 3),
            "by_package": {k: round(100 * v / total, 1) for k, v in by_package.most_common()},
            "top_functions": {
                k: round(100 * v / total, 1) for k, v in by_function.most_common(TOP_FUNCTIONS)
            },
        }


def sampled(on: bool) -> AbstractAsyncContextManager[Any]:
    return Sampled() if on else nullcontext()


def package_of(filename: str) -> str:
    """Whose code a frame runs: a distribution's import name, a module of the standard library,
    or this project."""
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py").split(".")[0]
    if Path(filename).is_relative_to(ROOT):
        top = Path(filename).relative_to(ROOT).parts[0]
        return "the bot's own code" if top in OWN_CODE else top
    for i, part in enumerate(parts[:-1]):
        if part.startswith("python3") and parts[i - 1] == "lib":
            return "standard library: " + parts[i + 1].removesuffix(".py")
    return "built-in or generated"


def shorter(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if Path(filename).is_relative_to(ROOT):
        return str(Path(filename).relative_to(ROOT))
    if "/python3." in filename:
        return filename.split("/python3.", 1)[1].partition("/")[2]
    return filename


def bare_app(standin: StandIn) -> Any:
    """The bare PTB baseline: the same transport and processor, no database; its one handler
    answers the button and edits the message."""
    app = (
        Application.builder()
        .token(TOKEN)
        .base_url(standin.base_url)
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .concurrent_updates(PerPersonProcessor(256))
        .build()
    )

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You tapped {query.data}")

    app.add_handler(CallbackQueryHandler(echo))
    return app


async def bare_tap_cost(people: int, profile: bool = False) -> dict[str, Any]:
    """Baseline for :func:`tap_costs`: the bare PTB echo handler, one tap at a time."""
    standin = await StandIn.start("--quiet", "--latency", "0")
    try:
        app = bare_app(standin)
        process = processor(app)
        updates = Updates()
        async with app:
            spent = 0.0
            async with sampled(profile) as sampler:
                for i in range(people):
                    for n in range(len(TAPS)):
                        data = updates.tap(i, f"x{n}", 1)
                        started = cpu()
                        await process(data)
                        spent += cpu() - started
        result: dict[str, Any] = {"mean": round(1000 * spent / people / len(TAPS), 2)}
        if sampler is not None:
            result["profile"] = {**sampler.read(), "cpu_s": round(spent, 3)}
        return result
    finally:
        await standin.stop()


async def bare_taps(
    people: int, think: tuple[float, float] | None, latency: float
) -> dict[str, Any]:
    """Baseline: the bare PTB Application (:func:`bare_app`), people tapping at once."""
    standin = await StandIn.start("--quiet", "--latency", str(latency))
    try:
        app = bare_app(standin)
        updates = Updates()
        async with app:
            return await drive(
                processor(app),
                people,
                lambda i: [updates.tap(i, f"x{n}", 1) for n in range(len(TAPS))],
                think,
            )
    finally:
        await standin.stop()


async def raw_driver_taps(kind: str, folder: Path, people: int) -> dict[str, Any]:
    """Baseline: the tap's three statements (record the update, read the check-in with its
    person, write the new state under a version check) in one transaction, by the raw driver."""
    url, name = await _database(kind, folder)
    try:
        await seed_people(url, people)
        now = datetime.now(UTC)
        engine = create_engine(url)
        async with create_sessionmaker(engine).begin() as session:
            await session.execute(
                text(
                    "INSERT INTO checkins (id, user_id, started_at, updated_at, status, step, "
                    "state, version) VALUES (:id, :id, :now, :now, 'open', 'pain', '{}', 0)"
                ),
                [{"id": i + 1, "now": now} for i in range(people)],
            )
        await engine.dispose()
        ids = iter(range(1, 10**9))
        state = json.dumps({"draft": ["lower"], "answers": {"pain": 5}})
        insert = "INSERT INTO processed_updates (bot_id, update_id, at) VALUES ($1, $2, $3)"
        select_ = (
            "SELECT c.id, c.version, c.state, u.language FROM checkins c JOIN users u "
            "ON u.id = c.user_id WHERE c.id = $1"
        )
        update = (
            "UPDATE checkins SET state = $1, version = version + 1, updated_at = $2 "
            "WHERE id = $3 AND version = $4"
        )
        if kind == "postgres":
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            pool = await asyncpg.create_pool(dsn, min_size=5, max_size=15)

            async def tap(data: dict[str, Any]) -> None:
                async with pool.acquire() as connection, connection.transaction():
                    await connection.execute(insert, BOT_ID, next(ids), datetime.now(UTC))
                    row = await connection.fetchrow(select_, data["id"])
                    await connection.execute(
                        update, state, datetime.now(UTC), data["id"], row["version"]
                    )

            try:
                return await drive(tap, people, lambda i: [{"id": i + 1}] * 7, None)
            finally:
                await pool.close()
        path = url.split("///", 1)[1]
        connection = await aiosqlite.connect(path, isolation_level=None)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        lock = asyncio.Lock()
        q = [
            s.replace("$1", "?").replace("$2", "?").replace("$3", "?").replace("$4", "?")
            for s in (insert, select_, update)
        ]

        async def tap_sqlite(data: dict[str, Any]) -> None:
            async with lock:  # one connection, as the bot has on SQLite
                await connection.execute("BEGIN IMMEDIATE")
                await connection.execute(q[0], (BOT_ID, next(ids), datetime.now(UTC).isoformat()))
                async with connection.execute(q[1], (data["id"],)) as cursor:
                    row = await cursor.fetchone()
                assert row is not None
                await connection.execute(
                    q[2], (state, datetime.now(UTC).isoformat(), data["id"], row[1])
                )
                await connection.execute("COMMIT")

        try:
            return await drive(tap_sqlite, people, lambda i: [{"id": i + 1}] * 7, None)
        finally:
            await connection.close()
    finally:
        await _drop(name)


async def raw_http_taps(people: int) -> dict[str, Any]:
    """Baseline: the tap's two Bot API calls (answer the button, edit the question) by the raw
    HTTP client, JSON bodies, one pooled session."""
    standin = await StandIn.start("--quiet")
    try:
        base = f"{standin.base_url}{TOKEN}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:

            async def tap(data: dict[str, Any]) -> None:
                async with http.post(
                    f"{base}/answerCallbackQuery", json={"callback_query_id": data["q"]}
                ) as response:
                    await response.read()
                async with http.post(
                    f"{base}/editMessageText",
                    json={"chat_id": data["chat"], "message_id": 1, "text": "Question"},
                ) as response:
                    await response.read()

            return await drive(
                tap,
                people,
                lambda i: [{"q": f"{FIRST_ID + i}:{n}", "chat": FIRST_ID + i} for n in range(7)],
                None,
            )
    finally:
        await standin.stop()


# --- reminders ----------------------------------------------------------------------------------


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def sweep_with(url: str, standin: StandIn, instances: int, limit: float) -> dict[str, Any]:
    """``instances`` bot processes sweep until nothing is due."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=standin.base_url,
        DATABASE_URL=url,
        TELEGRAM_MAX_MESSAGES_PER_SECOND=str(limit),
        REMINDER_BATCH_SIZE="500",
        LOG_LEVEL="WARNING",
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.sweeper_process",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(instances)
    ]
    for process in processes:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), 120)  # "ready"
    cpu_before = children_cpu()
    started = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    handled = []
    for process in processes:
        out, _ = await process.communicate()
        handled.append(int(out.decode().split()[-1]))
    wall = time.perf_counter() - started
    return {"wall_s": wall, "handled": handled, "cpu_s": children_cpu() - cpu_before}


async def reminders(folder: Path, due: int, instances: int, limit: float) -> dict[str, Any]:
    url, name = await _database("postgres", folder)
    standin = await StandIn.start("--quiet")
    try:
        await _seed(url, due, datetime.now(UTC) - timedelta(minutes=1))
        run = await sweep_with(url, standin, instances, limit)
        stats = await standin.stats()
        engine = create_engine(url)
        async with create_sessionmaker(engine)() as session:
            sent = await session.scalar(
                text(
                    "SELECT count(DISTINCT rule_id) FROM reminder_deliveries WHERE status = 'sent'"
                )
            )
            rows = await session.scalar(text("SELECT count(*) FROM reminder_deliveries"))
        await engine.dispose()
        calls = int(stats["calls"].get("sendMessage ok", 0))
        return {
            "due": due,
            "instances": instances,
            "limit": limit,
            "per_s": round(calls / run["wall_s"], 1),
            "per_s_per_process": round(calls / run["wall_s"] / instances, 1),
            "cpu_ms_each": round(1000 * run["cpu_s"] / max(calls, 1), 2),
            "sent_once": int(sent or 0) == due == int(rows or 0) == calls,
            "messages": calls,
            "handled": run["handled"],
        }
    finally:
        await standin.stop()
        await _drop(name)


async def raw_http_sends(count: int) -> dict[str, Any]:
    """Baseline: as many sendMessage calls by the raw HTTP client, 500 at a time."""
    standin = await StandIn.start("--quiet")
    try:
        base = f"{standin.base_url}{TOKEN}"
        slots = asyncio.Semaphore(500)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=500)) as http:

            async def send(i: int) -> None:
                async with (
                    slots,
                    http.post(
                        f"{base}/sendMessage", json={"chat_id": FIRST_ID + i, "text": "Time"}
                    ) as r,
                ):
                    await r.read()

            cpu_start, started = cpu(), time.perf_counter()
            await asyncio.gather(*(send(i) for i in range(count)))
            wall, spent = time.perf_counter() - started, cpu() - cpu_start
        return {"per_s": round(count / wall, 1), "cpu_ms_each": round(1000 * spent / count, 2)}
    finally:
        await standin.stop()


# --- start-up -----------------------------------------------------------------------------------


def reader_worker_mb(pid: int) -> float | None:
    """RSS of the bot's text-reader worker (the child with spaCy loaded), if it has one."""
    for child in children_of(pid):
        if has_loaded(child, "spacy"):
            return memory_of(child)[0]
    return None


def memory_of(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def seed_many(url: str, people: int) -> None:
    """``people`` patients with a schedule each, none due, by the database itself."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO users (id, telegram_id, chat_id, language, timezone, created_at, "
            "consent_at, bone_risk, immunosuppressed, cancer_history, profile_at) "
            f"SELECT g, {FIRST_ID} + g - 1, {FIRST_ID} + g - 1, 'en', 'Europe/Berlin', now(), "
            "now(), false, false, false, now() FROM generate_series(1, $1) g",
            people,
        )
        await connection.execute(
            "INSERT INTO reminder_rules (user_id, times, weekdays, timezone, active, next_due_at, "
            "fire_at, nudge_minutes, updated_at) SELECT g, '[\"09:00\"]', 127, 'Europe/Berlin', "
            "true, now() + interval '1 day' + g * interval '1 millisecond', "
            "now() + interval '1 day' + g * interval '1 millisecond', 0, now() "
            "FROM generate_series(1, $1) g",
            people,
        )
        # The first 100 have a week of finished check-ins, so /history has a chart to draw
        # (a period without one is answered in text only).
        await connection.execute(
            "INSERT INTO checkins (user_id, started_at, updated_at, finished_at, status, step, "
            "pain_score, state, version) SELECT u, now() - d * interval '1 day', "
            "now() - d * interval '1 day', now() - d * interval '1 day', 'complete', 'done', "
            "(u + d) % 8, json_build_object('answers', json_build_object('pain', "
            "((u + d) % 8)::text), 'draft', '[]'::json, 'trail', '[]'::json, 'text_findings', "
            "'[]'::json, 'escalated', 'none', 'rules', '[]'::json), 1 "
            "FROM generate_series(1, least($1, 100)) u, generate_series(0, 6) d",
            people,
        )
        for table in ("users", "reminder_rules", "checkins"):
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def start_and_measure(
    command: list[str], env: dict[str, str], standin: StandIn, charts: int, typed: str = ""
) -> dict[str, Any]:
    """Start ``command``; seconds until its first getUpdates (and until ``typed``, sent then,
    is answered), its memory then (and its text-reader worker's), and after ``charts`` people
    asked for /history (0: not asked)."""
    started = time.time()
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        while True:
            stats = await standin.stats()
            if stats["first_poll_at"] is not None:
                break
            if process.returncode is not None or time.time() - started > 120:
                assert process.stderr is not None
                raise RuntimeError((await process.stderr.read()).decode()[-2000:])
            await asyncio.sleep(0.01)
        result: dict[str, Any] = {"start_s": round(stats["first_poll_at"] - started, 2)}
        if typed:
            # A warning sign typed the moment the bot polls: answered once the reader is built.
            async with standin.http.post(
                "/control/push", json=[Updates().text(0, typed)]
            ) as response:
                response.raise_for_status()
            while (await standin.stats())["calls"].get("sendMessage ok", 0) < 1:
                if time.time() - started > 120:
                    raise RuntimeError("the typed warning sign was not answered")
                await asyncio.sleep(0.01)
            result["typed_answered_s"] = round(time.time() - started, 2)
        await asyncio.sleep(1.0)  # settled
        rss, _ = memory_of(process.pid)
        result["rss_mb"] = round(rss, 1)
        worker = reader_worker_mb(process.pid)
        if worker is not None:
            result["reader_worker_mb"] = round(worker, 1)
        if charts:
            updates = Updates()
            async with standin.http.post(
                "/control/push", json=[updates.command(i, "/history") for i in range(charts)]
            ) as response:
                response.raise_for_status()
            deadline = time.time() + 300
            while (await standin.stats())["calls"].get("sendPhoto ok", 0) < charts:
                if time.time() > deadline:
                    raise RuntimeError("the charts did not all arrive")
                await asyncio.sleep(0.2)
            rss, peak = memory_of(process.pid)
            result["rss_after_charts_mb"] = round(rss, 1)
            result["peak_mb"] = round(peak, 1)
        return result
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()


TYPED_SIGN = "since this morning I can't pee at all"

BARE_BOT = """
import os
from telegram.ext import Application, MessageHandler, filters
async def echo(update, context):
    await update.message.reply_text(update.message.text or "")
app = Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"]).base_url(
    os.environ["TELEGRAM_BASE_URL"]).build()
app.add_handler(MessageHandler(filters.ALL, echo))
app.run_polling()
"""


async def startup(folder: Path, people: int, charts: int) -> dict[str, Any]:
    url, name = await _database("postgres", folder)
    try:
        await seed_many(url, people)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
        results: dict[str, Any] = {}
        for label, command in (
            ("bot", [sys.executable, "-m", "bot", "run"]),
            ("bare PTB", [sys.executable, "-c", BARE_BOT]),
        ):
            standin = await StandIn.start("--quiet")
            try:
                env.update(
                    TELEGRAM_BOT_TOKEN=TOKEN,
                    TELEGRAM_BASE_URL=standin.base_url,
                    TELEGRAM_BASE_FILE_URL=standin.base_file_url,
                    DATABASE_URL=url,
                    LOG_LEVEL="WARNING",
                )
                results[label] = await start_and_measure(
                    command, env, standin, charts if label == "bot" else 0,
                    TYPED_SIGN if label == "bot" else "",
                )  # fmt: skip
            finally:
                await standin.stop()
        results["people"] = people
        return results
    finally:
        await _drop(name)


async def claim_timing(folder: Path, people: int, rounds: int = 20) -> dict[str, Any]:
    """Median time to claim (and commit) a 500-row batch among ``people`` schedules, with the
    table's default fillfactor and with 70."""
    url, name = await _database("postgres", folder)
    try:
        await seed_many(url, people)
        engine = create_engine(url)
        sessions = create_sessionmaker(engine)
        figures = {}
        for fill in (100, 70):
            async with engine.begin() as connection:
                await connection.execute(
                    text(f"ALTER TABLE reminder_rules SET (fillfactor = {fill})")
                )
            dsn = url.replace("postgresql+asyncpg://", "postgresql://")
            raw = await asyncpg.connect(dsn)
            await raw.execute("VACUUM FULL ANALYZE reminder_rules")
            times = []
            for n in range(rounds):
                # 500 rules fall due (spread over the table), then one claim takes them.
                await raw.execute(
                    "UPDATE reminder_rules SET fire_at = now() - interval '1 minute', "
                    "lease_until = NULL, lease_token = NULL WHERE id % $1 = $2 AND id <= $3",
                    people // 500,
                    n % max(people // 500, 1),
                    people,
                )
                started = time.perf_counter()
                async with sessions.begin() as session:
                    claimed = await reminder_repo.claim(
                        session, datetime.now(UTC), timedelta(seconds=120), f"t{n}", 500
                    )
                times.append(time.perf_counter() - started)
                assert len(claimed) == 500, len(claimed)
                await raw.execute(
                    "UPDATE reminder_rules SET fire_at = now() + interval '1 day' "
                    "WHERE lease_token = $1",
                    f"t{n}",
                )
            await raw.close()
            figures[f"fillfactor {fill}"] = round(1000 * statistics.median(times), 1)
        await engine.dispose()
        return figures
    finally:
        await _drop(name)


# --- the page -----------------------------------------------------------------------------------


def render(results: dict[str, Any], command: str) -> str:
    lines = [
        "# Capacity benchmarks",
        "",
        f"Written on {datetime.now(UTC).date()} by `{command}` "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} "
        "cores, a shared machine). A part that command did not run keeps its figures from the "
        "run before (all figures: benchmarks/capacity.json); figures in one table come from one "
        "run and are comparable, figures from different runs are not. The Bot API stand-in runs "
        "in its own process. Targets are issue 9's; nothing in the test suite asserts a timing. "
        "How each part ran, and where the time goes: the last section.",
        "",
    ]
    taps = results.get("taps")
    if taps:
        lines += [
            "## Taps: 200 patients checking in at once",
            "",
            "Each patient taps through a whole check-in (7 taps), each tap as soon as the last "
            "was answered. Target: at least 1,000 taps/s per process.",
            "",
            "| what | taps/s | CPU ms per tap | p50 ms | p95 ms |",
            "| --- | --- | --- | --- | --- |",
        ]
        for label, r in taps.items():
            lines.append(
                f"| {label} | {r['taps_per_s']} | {r['cpu_ms_per_tap']} | "
                f"{r['p50_ms']} | {r['p95_ms']} |"
            )
        lines.append("")
    costs = results.get("tap_costs")
    if costs:
        steps = [f"{step} {option}" for step, option in TAPS]
        lines += [
            "### CPU of each tap, one at a time",
            "",
            "The same check-in tapped by 200 patients one after another (nothing else running), "
            "ms of CPU per tap by question; the last tap ends the check-in (answers, history, "
            "snippets, the summary).",
            "",
            "| what | " + " | ".join(f"`{s}`" for s in steps) + " | mean |",
            "| --- | " + " | ".join("---" for _ in steps) + " | --- |",
        ]
        for label, r in costs.items():
            cells = [str(r.get(s, "")) for s in steps]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {r['mean']} |")
        lines.append("")
    profile = results.get("profile")
    if profile:
        labels = list(profile)
        shares = {label: r["profile"]["by_package"] for label, r in profile.items()}
        packages = list(shares[labels[0]])
        packages += [k for r in shares.values() for k in r if k not in packages]
        lines += [
            "### Where a tap's time goes (pyinstrument)",
            "",
            "The taps of the one-at-a-time run on PostgreSQL, and the bare PTB baseline's, "
            f"again, sampled by pyinstrument every {PROFILE_INTERVAL * 1000:g} ms on the "
            "event loop's thread (the set-up not sampled, the loop's wait for I/O left out): "
            "the share of the samples by whose code was running (native code counts as the "
            "Python function that called it, so a socket's send counts as the HTTP client's), "
            "and that share of the CPU per tap of the same sampled run, in ms (sampling makes "
            "every tap slower; compare the shares).",
            "",
            "| code | " + " | ".join(f"{label} % | ms" for label in labels) + " |",
            "| --- | " + " | ".join("--- | ---" for _ in labels) + " |",
        ]
        for package in packages:
            cells = []
            for label, r in profile.items():
                share = shares[label].get(package)
                if share is None:
                    cells.append(" | ")
                else:
                    cells.append(f"{share} | {round(share * r['mean'] / 100, 3)}")
            lines.append(f"| {package} | " + " | ".join(cells) + " |")
        lines.append("| **all** | " + " | ".join(f"100 | {r['mean']}" for r in profile.values()))
        lines[-1] += " |"
        covered = [
            f"{label} {r['profile']['sampled_s']} s of {r['profile']['cpu_s']} s"
            for label, r in profile.items()
            if "cpu_s" in r["profile"]
        ]
        if covered:
            lines += [
                "",
                "Busy time sampled against the CPU the taps took: " + "; ".join(covered) + ". "
                "The gap is pyinstrument's own work and native code that runs with no Python "
                "frame above the loop's (uvloop's transports, asyncpg's protocol reading a "
                "reply), which is counted as waiting: those parts are a little larger than "
                "their shares.",
            ]
        for label, r in profile.items():
            lines += [
                "",
                f"The busiest functions, {label} (own time, % of the samples):",
                "",
                "| function | % |",
                "| --- | --- |",
            ]
            lines += [f"| `{f}` | {v} |" for f, v in r["profile"]["top_functions"].items()]
        lines.append("")
    latency = results.get("latency")
    if latency:
        lines += [
            "## Latency: 500 patients, the stand-in answering after 50 ms",
            "",
            "Each patient taps through a check-in, a tap every 1-3 s, all at once; time from a "
            "tap to its edited question (both Bot API calls answered). Target: p95 at most "
            "250 ms.",
            "",
            "| what | taps | p50 ms | p95 ms | max ms | CPU ms per tap |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for label, r in latency.items():
            lines.append(
                f"| {label} | {r['taps']} | {r['p50_ms']} | {r['p95_ms']} | "
                f"{r['max_ms']} | {r['cpu_ms_per_tap']} |"
            )
        lines.append("")
    sweeps = results.get("reminders")
    if sweeps:
        lines += [
            "## Reminders (PostgreSQL)",
            "",
            "Due reminders swept by bot processes (`tests/sweeper_process.py`, batches of 500) "
            "until none is due; each must reach its patient once (checked: one delivery row per "
            "rule, sent, and as many messages at the stand-in). Target: at least 1,000/s per "
            "process with the limit off; at least 28/s sustained with the default limit.",
            "",
            "| what | due | reminders/s | per process | CPU ms each | each sent once |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for label, r in sweeps.items():
            if "due" in r:
                lines.append(
                    f"| {label} | {r['due']:,} | {r['per_s']} | "
                    f"{r['per_s_per_process']} | {r['cpu_ms_each']} | "
                    f"{'yes' if r['sent_once'] else '**no**'} |"
                )
            else:
                lines.append(f"| {label} | | {r['per_s']} | | {r['cpu_ms_each']} | |")
        lines.append("")
    starts = results.get("startup")
    if starts:
        lines += [
            "## Start-up and memory of `python -m bot run` (PostgreSQL)",
            "",
            "From starting the process (imports included) to its first getUpdates; a warning "
            "sign typed at that moment, and the seconds until its advice was sent (the text "
            "reader loads in a worker process of its own meanwhile, `bot/reading.py`); memory "
            "(RSS) a second later, of the bot and of its reader worker, and of the bot after "
            "100 people asked for /history (the chart is drawn in another worker, not counted "
            "here). Targets: at most 2 s and 150 MB.",
            "",
            "| patients | what | start-up s | typed sign answered s | RSS MB | reader worker MB "
            "| RSS after 100 charts MB |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in starts:
            for label in ("bot", "bare PTB"):
                m = r[label]
                lines.append(
                    f"| {r['people']:,} | {label} | {m['start_s']} | "
                    f"{m.get('typed_answered_s', '')} | {m['rss_mb']} | "
                    f"{m.get('reader_worker_mb', '')} | {m.get('rss_after_charts_mb', '')} |"
                )
        lines.append("")
    claim = results.get("claim")
    if claim:
        lines += [
            "## Claiming a batch among 1,000,000 schedules",
            "",
            "Median of 20 claims (and commits) of 500 due rules spread over the table. Target: "
            "at most 20 ms.",
            "",
            "| table | ms |",
            "| --- | --- |",
        ]
        lines += [f"| {label} | {ms} |" for label, ms in claim.items()]
        lines.append("")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    parts = set(args.parts.split(","))
    quick = args.quick
    results: dict[str, Any] = {}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "taps" in parts:
            n = 20 if quick else 200
            taps: dict[str, Any] = {}
            for kind in ("sqlite", "postgres"):
                taps[f"bot, {kind}"] = await bot_taps(kind, folder, n, None, 0.0)
                taps[f"baseline: raw driver, {kind}"] = await raw_driver_taps(kind, folder, n)
                print(json.dumps(taps), flush=True)
            taps["baseline: bare PTB"] = await bare_taps(n, None, 0.0)
            taps["baseline: raw HTTP client"] = await raw_http_taps(n)
            results["taps"] = taps
            print(json.dumps(taps), flush=True)
            results["tap_costs"] = {
                "bot, sqlite": await tap_costs("sqlite", folder, n),
                "bot, postgres": await tap_costs("postgres", folder, n),
                "baseline: bare PTB": await bare_tap_cost(n),
            }
            print(json.dumps(results["tap_costs"]), flush=True)
        if "profile" in parts:
            n = 20 if quick else 200
            results["profile"] = {
                "bot, postgres": await tap_costs("postgres", folder, n, profile=True),
                "baseline: bare PTB": await bare_tap_cost(n, profile=True),
            }
            print(json.dumps(results["profile"]), flush=True)
        if "latency" in parts:
            n = 50 if quick else 500
            results["latency"] = {
                "bot, postgres": await bot_taps("postgres", folder, n, (1.0, 3.0), 0.05),
                "bot, sqlite": await bot_taps("sqlite", folder, n, (1.0, 3.0), 0.05),
                "baseline: bare PTB": await bare_taps(n, (1.0, 3.0), 0.05),
            }
            print(json.dumps(results["latency"]), flush=True)
        if "reminders" in parts:
            due = 2_000 if quick else 100_000
            results["reminders"] = {
                "1 process, no limit": await reminders(folder, due, 1, 0),
                "2 processes, no limit": await reminders(folder, due, 2, 0),
                "baseline: raw HTTP client": await raw_http_sends(due),
            }
            if not quick:
                results["reminders"]["1 process, limit 30/s"] = await reminders(
                    folder, 6_000, 1, 30
                )
            print(json.dumps(results["reminders"]), flush=True)
        if "startup" in parts:
            big = 20_000 if quick else 1_000_000
            results["startup"] = [
                await startup(folder, 1_000, 10 if quick else 100),
                await startup(folder, big, 10 if quick else 100),
            ]
            print(json.dumps(results["startup"]), flush=True)
            results["claim"] = await claim_timing(folder, big)
            print(json.dumps(results["claim"]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity")
    parser.add_argument("--quick", action="store_true", help="small sizes, to try it out")
    parser.add_argument("--parts", default="taps,latency,reminders,startup")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    loop = new_event_loop()  # uvloop, as `python -m bot run` uses
    try:
        results = loop.run_until_complete(main_async(args))
    finally:
        loop.close()
    if not args.no_write:
        # A part not run this time keeps its figures from the last run (with their date there).
        earlier = json.loads(RAW.read_text()) if RAW.exists() else {}
        results = {**earlier, **results}
        RAW.write_text(json.dumps(results, indent=1) + "\n")
        command = "python -m benchmarks.capacity " + " ".join(sys.argv[1:])
        page = render(results, command.strip()) + "\n"
        # The profile and its reading are written by hand after a run: kept as they are.
        kept = DOC.read_text().partition(KEPT)[2] if DOC.exists() else ""
        DOC.write_text(page + (f"\n{KEPT}{kept}" if kept else ""))
        print(DOC)


if __name__ == "__main__":
    main()
