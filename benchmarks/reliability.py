"""The long reliability run: many people at once tapping current, stale and forged buttons,
updates delivered twice (later, or twice at once), odd text and commands, with a share of Bot API
calls failing, through the real Application and its per-person update processor, on SQLite and
PostgreSQL. It counts updates, unhandled errors (caused by an injected fault, or not), database
invariant violations, lost and doubled answers and the bot's memory, and with ``--flood`` measures
what one person's flood of messages costs everyone else. It writes docs/reliability.md.

    python -m benchmarks.reliability                         10,000 updates on each database
    python -m benchmarks.reliability --updates 100000 --flood
    python -m benchmarks.reliability --database postgres --updates 0 --flood   the flood alone

Three processes: this one runs the bot (the Application, as in production) and the people who
drive it, and is the one whose memory is measured; the Bot API stand-in runs in its own
(benchmarks/standin_server.py); the database checks run in a third, so that reading every row
does not count as the bot's memory. A part of the page that a run did not redo (another
database, or the flood) is kept as it was.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import platform
import random
import re
import shlex
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
from pydantic import SecretStr
from telegram import Update

from benchmarks.run import TOKEN, _database, _drop
from bot.checkin import BACK, DONE, TICK, UNTICK, Engine, Step
from bot.config import Settings
from bot.flood import Verdict
from bot.free_text import reader
from bot.memory import limit_arenas
from content.loader import default_catalog
from handlers.app import build_application, memory_job
from handlers.callback_data import CheckinTap, decode
from handlers.context import Context
from handlers.escalations import outbox_job
from tests.botapi import BOT_ID, BOT_USERNAME
from tests.fuzz import COMMANDS, FORGED, TEXTS, invariants
from tests.harness import ManualClock, Person
from tests.processes import rss_mb

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "reliability.md"
FAULTY = ("sendMessage", "editMessageText", "answerCallbackQuery")
FAULT_KINDS = ("5xx", "429", "too_old", "timeout")
TIMEOUT_DELAY = 5.5
"""How long a ``timeout`` fault holds its answer: past the transport's 5 s read timeout."""
STUCK_SECONDS = 120
"""An update not processed after this long is counted as stuck (an error) and left behind."""
CHECK_EVERY = 1_000
"""Updates between two checkpoints (traffic pauses; outbox and housekeeping run; the database
is checked; memory is read)."""
MIX = (
    ("tap on the current question", 0.45),
    ("the same update delivered again (later, or twice at once)", 0.10),
    ("a button on an older message", 0.10),
    ("forged data, or another person's button", 0.07),
    ("typed text, with NUL bytes and 4,096 characters among it", 0.15),
    ("a command", 0.13),
)
_CATALOG = default_catalog()
_TEXT = {key: _CATALOG.text(key, "en") for key in (
    "checkin.resent_below", "checkin.cancelled", "checkin.expired", "error.generic",
    "flood.slow_down")}  # fmt: skip
SORRY = _TEXT["error.generic"]
SLOW_DOWN = _TEXT["flood.slow_down"]
ENGINE = Engine(_CATALOG.questionnaire)
STEPS = frozenset(s.value for s in Step)

Event = dict[str, Any]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_figures(values: list[float]) -> dict[str, float]:
    """p50, p95 and max in milliseconds."""
    return {
        "count": len(values),
        "p50_ms": round(1000 * percentile(values, 0.50), 1),
        "p95_ms": round(1000 * percentile(values, 0.95), 1),
        "max_ms": round(1000 * max(values, default=0.0), 1),
    }


class Latencies:
    """Reply times in 1 ms bins, so that 100,000 of them take no more memory than ten."""

    def __init__(self, seconds: int = 120) -> None:
        self.bins = [0] * (seconds * 1000 + 1)
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.bins[min(len(self.bins) - 1, max(0, int(seconds * 1000)))] += 1
        self.count += 1
        self.max = max(self.max, seconds)

    def _at(self, share: float) -> float:
        wanted = min(self.count - 1, int(share * self.count))
        seen = 0
        for ms, n in enumerate(self.bins):
            seen += n
            if seen > wanted:
                return float(ms)
        return 0.0

    def figures(self) -> dict[str, float]:
        return {
            "count": self.count,
            "p50_ms": self._at(0.50) if self.count else 0.0,
            "p95_ms": self._at(0.95) if self.count else 0.0,
            "max_ms": round(1000 * self.max, 1),
        }


# --- updates as Telegram sends them -------------------------------------------------------------

_update_ids = itertools.count(1)


_message_ids = itertools.count(1)
_query_ids = itertools.count(1)
_BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Back pain diary",
             "username": BOT_USERNAME}  # fmt: skip


def text_update(person: Person, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": person.chat_id, "type": "private", "first_name": person.first_name},
        "from": person.user_json(),
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": next(_update_ids), "message": message}


def button_update(person: Person, data: str, message_id: int, seen: Seen) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": person.chat_id, "type": "private"},
        "from": _BOT_USER,
        "text": seen.text,
    }
    if seen.keyboard:
        message["reply_markup"] = {"inline_keyboard": seen.keyboard}
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            # The stand-in reads the chat from the query id to file the answer under it.
            "id": f"{person.chat_id}:{next(_query_ids)}",
            "from": person.user_json(),
            "chat_instance": "chat-instance",
            "data": data,
            "message": message,
        },
    }


# --- what each person sees ----------------------------------------------------------------------


@dataclass
class Seen:
    text: str
    keyboard: list[list[dict[str, Any]]] | None

    def buttons(self) -> list[dict[str, Any]]:
        return [b for row in self.keyboard or () for b in row if "callback_data" in b]


@dataclass
class View:
    """One person's chat as they see it (the newest messages only) and their own last updates."""

    person: Person
    messages: dict[int, Seen] = field(default_factory=dict)
    sent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))
    keep: int = 10

    @property
    def chat(self) -> int:
        return self.person.chat_id

    def apply(self, events: Iterable[Event]) -> None:
        for event in events:
            if not event["ok"] or event.get("id") is None:
                continue
            if event["m"].startswith("send"):
                self.messages[int(event["id"])] = Seen(event.get("text", ""), event.get("keyboard"))
                while len(self.messages) > self.keep:
                    del self.messages[min(self.messages)]
            elif event["m"] == "editMessageText" and int(event["id"]) in self.messages:
                self.messages[int(event["id"])] = Seen(event.get("text", ""), event.get("keyboard"))

    def with_buttons(self) -> list[tuple[int, Seen]]:
        return sorted((i, m) for i, m in self.messages.items() if m.buttons())

    def find(self, label: str) -> tuple[int, Seen, str]:
        for message_id, seen in reversed(self.with_buttons()):
            for button in seen.buttons():
                if button["text"].removeprefix("✅ ") == label:
                    return message_id, seen, str(button["callback_data"])
        raise AssertionError(f"{self.person.first_name}: no {label!r} button on screen")


# --- the other two processes --------------------------------------------------------------------


class StandIn:
    """The Bot API stand-in, run as ``python -m benchmarks.standin_server``."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.http = aiohttp.ClientSession(f"http://127.0.0.1:{port}")

    @classmethod
    async def start(cls, *options: str) -> StandIn:
        """Start the stand-in with these command-line options (``--latency 0.05``)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.standin_server", "--token", TOKEN, *options,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        return cls(process, int(json.loads(line)["port"]))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def events(self, chats: Iterable[int], wait: float = 0.0) -> dict[int, list[Event]]:
        """What these chats saw since the last call; ``wait``: held up to that many seconds
        until one of them saw something."""
        params = {"chats": ",".join(map(str, chats)), "wait": str(wait)}
        async with self.http.get("/control/events", params=params) as response:
            data = await response.json()
        return {int(chat): events for chat, events in data.items()}

    async def push(self, *updates: dict[str, Any]) -> None:
        """Queue updates for the bot's long polling (the stand-in numbers them as it queues
        them, as Telegram does)."""
        async with self.http.post("/control/push", json=list(updates)) as response:
            response.raise_for_status()

    async def flood(self, update: dict[str, Any], texts: list[str], count: int) -> None:
        """Queue ``count`` copies of this message update, cycling through ``texts``."""
        body = {"update": update, "texts": texts, "count": count}
        async with self.http.post("/control/flood", json=body) as response:
            response.raise_for_status()

    async def faults(self, rate: float, methods: Iterable[str] = FAULTY) -> None:
        body = {
            "rate": rate,
            "methods": list(methods),
            "seed": 5,
            "kinds": list(FAULT_KINDS),
            "timeout_delay": TIMEOUT_DELAY,
        }
        async with self.http.post("/control/faults", json=body) as response:
            response.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        async with self.http.get("/control/stats") as response:
            data: dict[str, Any] = await response.json()
            return data

    async def stop(self) -> None:
        await self.http.close()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class Checker:
    """The database checks, run as ``python -m benchmarks.reliability --check-database URL``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str) -> Checker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.reliability", "--check-database", url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            limit=64 * 1024 * 1024,
        )  # fmt: skip
        return cls(process)

    async def check(self, expected: dict[int, dict[str, Any]]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"expected": expected}).encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), 600)
        if not line:
            raise RuntimeError("the database checker stopped")
        result: dict[str, Any] = json.loads(line)
        return result

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


# --- unhandled errors ---------------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Every record at ERROR: an unhandled error reaches the error handler (handlers/errors.py),
    which logs one, naming the update; records of no update are kept apart."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.by_update: dict[int, list[str]] = {}
        self.loose: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        update_id = args[0] if args and isinstance(args[0], int) else None
        if message.startswith("Telegram error on update"):
            kind = f"Telegram error: {str(args[1])[:80] if len(args) > 1 else ''}"
        elif message.startswith("Error on update") and len(args) > 2:
            kind = f"{args[1]} at {_last_frame(str(args[2]))}"
        else:
            update_id = None
            kind = f"{record.name}: {record.getMessage()[:120]}"
            if record.exc_info and record.exc_info[0] is not None:
                kind += f" ({record.exc_info[0].__name__})"
        if update_id is None:
            self.loose[kind] += 1
        else:
            self.by_update.setdefault(update_id, []).append(kind)


def _last_frame(frames: str) -> str:
    """Where an error was raised and which handler it came through: the deepest and the first
    frames in the project, as path:line (relative: no machine paths)."""
    found = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', frames)
    ours = [(_relative(p), n, f) for p, n, f in found if "site-packages" not in p]
    ours = [x for x in ours if not x[0].startswith(("benchmarks/", "handlers/ordering.py"))]
    if not ours:
        return "?"
    deepest = f"{ours[-1][0]}:{ours[-1][1]} ({ours[-1][2]})"
    first = f"{ours[0][0]}:{ours[0][1]} ({ours[0][2]})"
    return deepest if first == deepest else f"{deepest} via {first}"


def _relative(path: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(ROOT))
    return path


# --- lost and doubled answers -------------------------------------------------------------------


@dataclass
class Tracked:
    """One check-in as its person saw it: the answers acknowledged on screen."""

    person: int
    answers: dict[str, Any] = field(default_factory=dict)
    """step -> the value acknowledged (None: answered, value not known to the person)."""
    drafts: dict[str, list[str] | None] = field(default_factory=dict)
    """step -> the ticks last shown on that multi-select step (None: a tick went unshown)."""
    uncertain: bool = False
    """A Back that may or may not have been applied (its reply failed): not checked."""


def _checkin_screens(events: list[Event], checkin_id: int) -> tuple[list[str], bool, bool]:
    """Steps of this check-in shown (in order), whether its summary was shown, and whether a
    question was replaced by "Saved" (advice came first) in these events."""
    steps: list[str] = []
    summary = saved = False
    for event in events:
        if not event["ok"] or event["m"] not in ("sendMessage", "editMessageText"):
            continue
        if event["m"] == "editMessageText" and event.get("text") == _TEXT["checkin.resent_below"]:
            saved = True
        for row in event.get("keyboard") or ():
            for button in row:
                data = str(button.get("callback_data", ""))
                if data == f"n:{checkin_id}:add":
                    summary = True
                elif data.startswith(f"c:{checkin_id}:"):
                    step = data.split(":")[2]
                    if not steps or steps[-1] != step:
                        steps.append(step)
    return steps, summary, saved


def _ticks(keyboard: list[list[dict[str, Any]]] | None, checkin_id: int, step: str) -> list[str]:
    prefix = f"c:{checkin_id}:{step}:{UNTICK}"
    return sorted(
        str(b["callback_data"])[len(prefix) :]
        for row in keyboard or ()
        for b in row
        if str(b.get("callback_data", "")).startswith(prefix)
    )


class Ledger:
    """What people were shown as saved, to compare with the database at every checkpoint."""

    def __init__(self) -> None:
        self.checkins: dict[int, Tracked] = {}
        self.lost: list[str] = []
        self.doubled: list[str] = []
        self.crossed: list[str] = []
        self.acknowledged = 0
        self.uncertain = 0
        self.uncertain_closed = 0
        self.verified = 0

    def seen(self, view: View, events: list[Event]) -> None:
        """Check-ins whose buttons appear in a chat belong to that chat's person."""
        for event in events:
            if not event["ok"] or not event.get("keyboard"):
                continue
            shown: set[tuple[int, str]] = set()
            for row in event["keyboard"]:
                for button in row:
                    tap = decode(str(button.get("callback_data", "")))
                    if isinstance(tap, CheckinTap) and tap.step in STEPS:
                        shown.add((tap.checkin_id, tap.step))
            for checkin_id, step in shown:
                tracked = self.checkins.setdefault(checkin_id, Tracked(view.chat))
                if tracked.person != view.chat:
                    self.crossed.append(
                        f"check-in {checkin_id} of {tracked.person} shown to {view.chat}"
                    )
                if ENGINE.kind(Step(step)) == "multi":
                    tracked.drafts[step] = _ticks(event["keyboard"], checkin_id, step)

    def tap(self, view: View, data: str, events: list[Event]) -> None:
        """After a tap on a check-in question: what the screen acknowledged."""
        tap = decode(data)
        if not isinstance(tap, CheckinTap) or tap.step not in STEPS:
            return
        tracked = self.checkins.get(tap.checkin_id)
        if tracked is None or tracked.person != view.chat:
            return  # not this person's check-in: the service must refuse it (crossed if not)
        failed = any(not e["ok"] or e.get("fault") for e in events)
        steps, summary, saved = _checkin_screens(events, tap.checkin_id)
        moved = bool(steps) and steps[-1] != tap.step
        step = Step(tap.step)
        kind = ENGINE.kind(step)
        option = tap.option
        if option == BACK:
            if moved:
                tracked.answers.pop(steps[-1], None)
            elif failed and not tracked.uncertain:
                tracked.uncertain = True
                self.uncertain += 1
            return
        if option[:1] in (TICK, UNTICK):
            if tap.step not in steps and failed:
                tracked.drafts[tap.step] = None
            return
        if kind in ("scale", "single"):
            if option not in ENGINE.options(step):
                return
            value: Any = int(option) if kind == "scale" else option
        elif option == DONE:
            value = tracked.drafts.get(tap.step)
            if value is not None and not value:
                return  # nothing ticked: "tap at least one"
        elif option == ENGINE.none_option(step):
            value = []
        else:
            return
        if not (moved or summary or saved):
            return
        self.acknowledged += 1
        if tap.step in tracked.answers and not tracked.uncertain:
            self.doubled.append(f"check-in {tap.checkin_id}: {tap.step} answered twice on screen")
        tracked.answers[tap.step] = value

    def expected(self) -> dict[int, dict[str, Any]]:
        """Every check-in followed, with the answers to look for (none if unchecked)."""
        return {
            checkin_id: {"person": t.person, "answers": {} if t.uncertain else t.answers}
            for checkin_id, t in self.checkins.items()
        }

    def settle(self, result: dict[str, Any]) -> None:
        """Take the checker's findings; forget check-ins that are closed (their answers are final
        and were just checked), so this ledger stays as small as the number of people."""
        self.lost += result["lost"]
        self.doubled += result["doubled"]
        for checkin_id in result["closed"]:
            tracked = self.checkins.pop(int(checkin_id), None)
            if tracked is not None and tracked.answers and not tracked.uncertain:
                self.verified += 1
            if tracked is not None and tracked.uncertain:
                self.uncertain_closed += 1


# --- the run ------------------------------------------------------------------------------------


class Run:
    def __init__(self, kind: str, url: str, standin: StandIn, checker: Checker, seed: int) -> None:
        self.kind = kind
        self.standin = standin
        self.checker = checker
        self.rng = random.Random(seed)
        settings = Settings(
            telegram_bot_token=SecretStr(TOKEN),
            telegram_base_url=standin.base_url,
            telegram_base_file_url=standin.base_file_url,
            database_url=url,
            # The limiter stays on, as for real Telegram (it retries a 429 after retry_after),
            # with a rate the stand-in never reaches.
            telegram_max_messages_per_second=10_000,
        )
        self.settings = settings
        self.clock = ManualClock(datetime.now(UTC))
        self.app = build_application(settings, clock=self.clock)
        self.services = self.app.bot_data["services"]
        self.errors = ErrorLog()
        self.ledger = Ledger()
        self.latencies = Latencies()
        self.silent = 0
        self.updates = 0
        self.fault_errors: Counter[str] = Counter()
        self.other_errors: Counter[str] = Counter()
        self.escaped: Counter[str] = Counter()
        self.apologies = 0
        self.slow_downs = 0
        self.violations: dict[str, int] = {}
        self.views: list[View] = []
        self.trace_memory = False
        self.count_objects = False

    # --- delivering -----------------------------------------------------------------------

    async def process(self, payload: dict[str, Any]) -> None:
        """As polling and webhooks do: through the per-person update processor."""
        update = Update.de_json(payload, self.app.bot)
        try:
            async with asyncio.timeout(STUCK_SECONDS):
                await self.app.update_processor.process_update(
                    update, self.app.process_update(update)
                )
        except TimeoutError:  # never finished: counted, and the run goes on
            self.escaped[f"stuck: not done after {STUCK_SECONDS} s"] += 1
        except Exception as exc:  # escaped the Application and its error handler
            self.escaped[f"{type(exc).__name__} at {_last_frame(_frames(exc))}"] += 1

    async def deliver(self, view: View, *payloads: dict[str, Any]) -> list[Event]:
        """Deliver updates of one person (two: the same update twice at once), wait for the bot,
        and read what the person's chat shows now."""
        started = time.monotonic()
        await asyncio.gather(*(self.process(p) for p in payloads))
        events = (await self.standin.events([view.chat])).get(view.chat, [])
        replies = [e["at"] for e in events if e["ok"]]
        if replies:
            self.latencies.add(min(replies) - started)
        else:
            self.silent += 1
        failed = any(not e["ok"] or e.get("fault") for e in events)
        for payload in payloads:
            for kind in self.errors.by_update.pop(payload["update_id"], ()):
                if failed and kind.startswith("Telegram error"):
                    self.fault_errors[kind] += 1
                else:
                    self.other_errors[kind] += 1
        for event in events:
            if event["ok"] and event["m"] == "sendMessage":
                self.apologies += event.get("text") == SORRY
                self.slow_downs += event.get("text") == SLOW_DOWN
        self.ledger.seen(view, events)
        view.apply(events)
        for payload in payloads:
            view.sent.append(payload)
        return events

    async def tap(self, view: View, message_id: int, seen: Seen, data: str) -> int:
        payload = button_update(view.person, data, message_id, seen)
        events = await self.deliver(view, payload)
        self.ledger.tap(view, data, events)
        return 1

    async def say(self, view: View, text: str) -> int:
        await self.deliver(view, text_update(view.person, text))
        return 1

    # --- people -----------------------------------------------------------------------------

    async def onboard(self, view: View) -> None:
        await self.say(view, "/start")
        labels = ["Yes, that's OK", "Berlin"]
        labels += [self.rng.choice(("Yes", "No", "Not sure")) for _ in range(3)]
        for label in [*labels, "Not now"]:
            message_id, seen, data = view.find(label)
            await self.tap(view, message_id, seen, data)

    def _pick(self, seen: Seen, index: int) -> str:
        buttons = seen.buttons()
        return str(buttons[index % len(buttons)]["callback_data"])

    async def tap_current(self, view: View, index: int, twice: bool = False) -> int:
        shown = view.with_buttons()
        if not shown:
            return await self.say(view, COMMANDS[index % len(COMMANDS)])
        message_id, seen = shown[-1]
        data = self._pick(seen, index)
        if not twice:
            return await self.tap(view, message_id, seen, data)
        payload = button_update(view.person, data, message_id, seen)
        events = await self.deliver(view, payload, json.loads(json.dumps(payload)))
        self.ledger.tap(view, data, events)
        return 2

    async def tap_stale(self, view: View, index: int) -> int:
        shown = view.with_buttons()
        if len(shown) < 2:
            return await self.tap_current(view, index)
        message_id, seen = shown[index % (len(shown) - 1)]
        return await self.tap(view, message_id, seen, self._pick(seen, index))

    async def forge(self, view: View, index: int) -> int:
        """Made-up data, or the newest button of someone else, tapped on this person's own
        message."""
        data = FORGED[index % len(FORGED)]
        if index % 2:
            other = self.views[index % len(self.views)]
            theirs = other.with_buttons()
            if other is not view and theirs:
                data = self._pick(theirs[-1][1], index)
        own = view.with_buttons() or sorted(view.messages.items())
        if not own:
            return await self.say(view, "/help")
        message_id, seen = own[-1]
        return await self.tap(view, message_id, seen, data)

    async def repeat(self, view: View, index: int) -> int:
        if index % 2 and view.sent:
            # Delivered again, later, exactly as before.
            await self.deliver(view, json.loads(json.dumps(view.sent[index % len(view.sent)])))
            return 1
        return await self.tap_current(view, index, twice=True)

    async def step(self, view: View) -> int:
        index = self.rng.randrange(1_000)
        roll = self.rng.random()
        if roll < 0.45:
            return await self.tap_current(view, index)
        if roll < 0.55:
            return await self.repeat(view, index)
        if roll < 0.65:
            return await self.tap_stale(view, index)
        if roll < 0.72:
            return await self.forge(view, index)
        if roll < 0.87:
            return await self.say(view, TEXTS[index % len(TEXTS)] or " ")
        return await self.say(view, COMMANDS[index % len(COMMANDS)])

    async def block(self, budget: int) -> None:
        """``budget`` updates from everyone at once; each person's own one after another."""
        left = [budget]

        async def person(view: View) -> None:
            while left[0] > 0:
                left[0] -= 1
                taken = await self.step(view)
                left[0] -= taken - 1
                self.updates += taken

        await asyncio.gather(*(person(v) for v in self.views))

    async def checkpoint(self) -> list[str]:
        """Traffic paused: the outbox and housekeeping jobs run, then the database is checked."""
        self.clock.advance(minutes=5)
        context = Context(self.app)
        await outbox_job(context)
        await self.services.checkins.close_stale()
        await self.services.updates.prune()
        await memory_job(context)  # every 5 minutes in the bot, as here
        chats = [v.chat for v in self.views]
        drained = await self.standin.events(chats)
        for view in self.views:
            self.ledger.seen(view, drained.get(view.chat, []))
            view.apply(drained.get(view.chat, []))
        result = await self.checker.check(self.ledger.expected())
        self.ledger.settle(result)
        for violation in result["invariants"]:
            self.violations[violation] = self.violations.get(violation, 0) + 1
        return list(result["invariants"])

    # --- the long run ---------------------------------------------------------------------

    async def long_run(self, updates: int, people: int, fault_rate: float,
                       max_minutes: float | None) -> dict[str, Any]:  # fmt: skip
        # As at start-up: the text reader's worker loads before traffic is measured.
        self.services.reading.start()
        await self.services.reading.read("warming up")
        self.views = [View(Person(600_000 + i, f"R{i}")) for i in range(people)]
        await asyncio.gather(*(self.onboard(v) for v in self.views))
        self.updates = 0
        self.latencies = Latencies()
        self.other_errors.clear()
        self.fault_errors.clear()
        self.apologies = self.slow_downs = self.silent = 0
        await self.checkpoint()
        await self.standin.faults(fault_rate)
        gc.collect()
        memory = [(0, round(rss_mb(), 1))]
        traced: tracemalloc.Snapshot | None = None
        first_counts: Counter[str] | None = None
        if self.trace_memory:
            tracemalloc.start(12)
        standin_start = (await self.standin.stats())["rss_mb"]
        reader_start = rss_mb(self.services.reading.pid() or 0)
        busy = 0.0
        wall = time.perf_counter()
        stopped_early = False
        while self.updates < updates:
            started = time.perf_counter()
            await self.block(min(CHECK_EVERY, updates - self.updates))
            busy += time.perf_counter() - started
            await self.checkpoint()
            memory.append((self.updates, round(rss_mb(), 1)))
            if self.count_objects:
                gc.collect()  # count what is alive, not garbage waiting for the collector
                counts = Counter(type(o).__qualname__ for o in gc.get_objects())
                if first_counts is None and self.updates >= updates // 3:
                    first_counts = counts
                elif first_counts is not None:
                    grown = (counts - first_counts).most_common(12)
                    print(f"  objects grown since a third of the run: {grown}",
                          file=sys.stderr, flush=True)  # fmt: skip
                cache = self.services.db_engine.sync_engine._compiled_cache
                print(f"  {self.updates}: {rss_mb():.1f} MB; compiled statements cached: "
                      f"{len(cache) if cache is not None else 0}; prepared statements: "
                      f"{counts['PreparedStatementState']}; objects: {sum(counts.values())}",
                      file=sys.stderr, flush=True)  # fmt: skip
            if self.trace_memory and traced is None and self.updates >= updates // 3:
                gc.collect()  # warmed up: growth from here on is what a long run keeps
                traced = tracemalloc.take_snapshot()
            if self.updates % 10_000 < CHECK_EVERY:
                print(f"  {self.kind}: {self.updates} updates, {self.updates / busy:.0f}/s, "
                      f"{memory[-1][1]} MB", file=sys.stderr, flush=True)  # fmt: skip
            if max_minutes and time.perf_counter() - wall > 60 * max_minutes:
                stopped_early = self.updates < updates
                break
        await self.standin.faults(0.0)
        await self.checkpoint()  # the outbox delivers what faults held back
        gc.collect()
        memory_end = round(rss_mb(), 1)
        if self.trace_memory and traced is not None:
            _print_growth(traced, tracemalloc.take_snapshot())
            tracemalloc.stop()
        half = [m for n, m in memory if n >= self.updates // 2]
        stats = await self.standin.stats()
        loose = self.errors.loose.copy()
        self.errors.loose.clear()
        return {
            "updates": self.updates,
            "people": people,
            "fault_rate": fault_rate,
            "stopped_at_time_limit": stopped_early,
            "seconds": round(busy, 1),
            "wall_seconds": round(time.perf_counter() - wall, 1),
            "updates_per_second": round(self.updates / busy, 1) if busy else 0.0,
            "errors_fault": sum(self.fault_errors.values()),
            "errors_other": sum(self.other_errors.values()) + sum(loose.values()),
            "errors_escaped": sum(self.escaped.values()),
            "error_kinds_other": dict((self.other_errors + loose + self.escaped).most_common(8)),
            "error_kinds_fault": dict(self.fault_errors.most_common(5)),
            "invariant_checks": len(memory) + 1,
            "invariant_violations": len(self.violations),
            "first_violations": list(self.violations)[:5],
            "acknowledged_answers": self.ledger.acknowledged,
            "answers_verified_closed": self.ledger.verified,
            "checkins_not_checked": self.ledger.uncertain,
            "lost_answers": len(self.ledger.lost),
            "doubled_answers": len(self.ledger.doubled),
            "crossed": len(self.ledger.crossed),
            "first_lost": self.ledger.lost[:5],
            "first_doubled": self.ledger.doubled[:5],
            "first_crossed": self.ledger.crossed[:5],
            "apologies": self.apologies,
            "slow_downs": self.slow_downs,
            "reply_latency": self.latencies.figures(),
            "updates_without_reply": self.silent,
            "memory_start_mb": memory[0][1],
            "memory_end_mb": memory_end,
            "memory_mid_mb": half[0] if half else memory_end,
            "memory_series": [*memory[:: max(1, len(memory) // 10)], (self.updates, memory_end)],
            "standin_start_mb": standin_start,
            "reader_start_mb": round(reader_start, 1),
            "reader_end_mb": round(rss_mb(self.services.reading.pid() or 0), 1),
            "reader_restarts": self.services.reading.restarts,
            "standin_end_mb": stats["rss_mb"],
            "faults_injected": sum(v for k, v in stats["calls"].items() if k.endswith("failed")),
            "bot_api_calls": sum(stats["calls"].values()),
        }

    # --- the flood --------------------------------------------------------------------------

    async def checking_in(self, view: View, think: tuple[float, float], until: asyncio.Event,
                          record: Callable[[float, float], None]) -> None:  # fmt: skip
        """A person checking in at a human pace, through Telegram's queue (long polling): the
        current question's buttons (no Back or Cancel), /checkin when there is none; the time
        from queueing each update to the first thing the person sees is recorded."""
        rng = random.Random(view.chat)
        while not until.is_set():
            await asyncio.sleep(rng.uniform(*think))
            # Whatever arrived after the last reply (an edit after the button's answer).
            view.apply((await self.standin.events([view.chat])).get(view.chat, []))
            shown = view.with_buttons()
            choices: list[str] = []
            message_id, seen = shown[-1] if shown else (0, Seen("", None))
            for button in seen.buttons():
                data = str(button["callback_data"])
                if (data.startswith("c:") and not data.endswith((":x", ":<"))) or (
                    data.startswith("r:") and data.endswith(":go")
                ):
                    choices.append(data)
            if choices:
                payload = button_update(view.person, rng.choice(choices), message_id, seen)
            else:
                payload = text_update(view.person, "/checkin")
            started = time.monotonic()
            await self.standin.push(payload)
            deadline = started + STUCK_SECONDS
            while time.monotonic() < deadline:
                events = (await self.standin.events([view.chat], wait=5.0)).get(view.chat, [])
                view.apply(events)
                replies = [e["at"] for e in events if e["ok"] and e["at"] >= started]
                if replies:
                    record(started, min(replies) - started)
                    break
            else:
                self.escaped[f"flood run: no reply within {STUCK_SECONDS} s"] += 1

    async def flood(self, messages: int, others: int, baseline_seconds: float,
                    think: tuple[float, float]) -> dict[str, Any]:  # fmt: skip
        """One person's flood and others checking in, all through long polling: the real
        Updater fetches Telegram's queue (the stand-in's) 100 updates at a time, as in
        production, so the door before parsing (bot/intake.py) is in the path."""
        await self.standin.faults(0.0)
        settings = self.settings
        people = [View(Person(700_000 + i, f"F{i}")) for i in range(others)]
        flooder = View(Person(799_999, "Flood"))
        self.views = [*people, flooder]
        await asyncio.gather(*(self.onboard(v) for v in self.views))
        await self.standin.events([v.chat for v in self.views])  # onboarding replies: not counted
        guard = self.services.flood
        intake = self.services.intake
        processor = self.app.update_processor
        queued_out = processor.dropped  # type: ignore[attr-defined]
        door_out = intake.dropped
        verdicts: Counter[str] = Counter()
        check: Callable[[int], Verdict] = guard.check

        def counted(person: int) -> Verdict:
            verdict = check(person)
            if person == flooder.chat:
                verdicts[verdict.value] += 1
            return verdict

        guard.check = counted
        updater = self.app.updater
        assert updater is not None
        await self.app.start()
        await updater.start_polling(poll_interval=0, timeout=5)
        samples: list[tuple[float, float]] = []  # (queued at, latency)
        stop = asyncio.Event()
        walkers = [
            asyncio.create_task(
                self.checking_in(v, think, stop, lambda at, lat: samples.append((at, lat)))
            )
            for v in people
        ]
        await asyncio.sleep(baseline_seconds)
        gc.collect()
        memory_before = rss_mb()
        peak = [memory_before]
        flood_started = time.monotonic()
        # The whole flood is in Telegram's queue at once, ahead of what others send next.
        await self.standin.flood(text_update(flooder.person, "flood"),
                                 [t or " " for t in TEXTS], messages)  # fmt: skip
        # It is over when the bot has confirmed the last of it and the flooder's handled
        # updates are done.
        while True:
            stats = await self.standin.stats()
            peak.append(rss_mb())
            handling = processor._locks  # type: ignore[attr-defined]  # people with updates
            if stats["updates_waiting"] == 0 and flooder.chat not in handling:
                break
            await asyncio.sleep(0.05)
        flood_ended = time.monotonic()
        # The others carry on for as long again as the baseline, after the flood.
        await asyncio.sleep(min(baseline_seconds, 10.0))
        stop.set()
        await asyncio.gather(*walkers)
        await updater.stop()
        await self.app.stop()
        guard.check = check
        self.errors.by_update.clear()
        events = (await self.standin.events([flooder.chat])).get(flooder.chat, [])
        gc.collect()
        await asyncio.sleep(1.0)
        await memory_job(Context(self.app))  # as the bot does every 5 minutes
        memory_after = rss_mb()
        before = [lat for at, lat in samples if at < flood_started]
        during = [lat for at, lat in samples if flood_started <= at < flood_ended]
        after = [lat for at, lat in samples if at >= flood_ended]
        sent = [e for e in events if e["ok"] and e["m"] == "sendMessage"]
        return {
            "messages": messages,
            "others": others,
            "think_seconds": list(think),
            "flood_seconds": round(flood_ended - flood_started, 2),
            "limit": f"{settings.flood_max_updates} per {settings.flood_window_seconds:g} s",
            "handled": verdicts[Verdict.ALLOW.value],
            "dropped": verdicts[Verdict.DROP.value] + verdicts[Verdict.DROP_AND_TELL.value],
            "dropped_unparsed": intake.dropped - door_out,
            "dropped_waiting": processor.dropped - queued_out,  # type: ignore[attr-defined]
            "max_waiting": processor.max_waiting,  # type: ignore[attr-defined]
            "slow_down_messages": sum(e.get("text") == SLOW_DOWN for e in sent),
            "replies_to_flooder": len(sent),
            "without": latency_figures(before),
            "during": latency_figures(during),
            "after": latency_figures(after),
            "memory_before_mb": round(memory_before, 1),
            "memory_peak_mb": round(max(peak), 1),
            "memory_after_mb": round(memory_after, 1),
        }


def _print_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> None:
    """Where memory grew (``--trace-memory``): the allocation sites that grew most, by the
    outermost frames in the project and its libraries."""
    noise = (tracemalloc.Filter(False, tracemalloc.__file__),)
    stats = after.filter_traces(noise).compare_to(before.filter_traces(noise), "traceback")
    print("memory growth by allocation site (tracemalloc):", file=sys.stderr)
    for stat in stats[:25]:
        frames = [f"{_relative(f.filename)}:{f.lineno}" for f in stat.traceback]
        print(f"  {stat.size_diff / 1e6:+8.2f} MB {stat.count_diff:+8d} blocks  "
              f"{' < '.join(reversed(frames[-4:]))}", file=sys.stderr)  # fmt: skip


def _frames(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_tb(exc.__traceback__))


async def run_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """The long run and, if asked, the flood, on a fresh database of this kind."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        url, name = await _database(kind, Path(folder))
        standin = await StandIn.start()
        checker = await Checker.start(url)
        errors: ErrorLog | None = None
        run: Run | None = None
        try:
            run = Run(kind, url, standin, checker, seed=11)
            run.trace_memory = args.trace_memory
            run.count_objects = args.count_objects
            errors = run.errors
            logging.getLogger().addHandler(errors)
            async with run.app:
                # Built at start-up in production (post_init), before the first update.
                await asyncio.to_thread(reader, "en")
                if args.updates:
                    results["run"] = await run.long_run(
                        args.updates, args.people, args.faults, args.max_minutes
                    )
                if args.flood:
                    results["flood"] = await run.flood(
                        args.flood_messages, args.flood_others, args.flood_baseline,
                        (args.think_min, args.think_max),
                    )  # fmt: skip
        finally:
            if errors is not None:
                logging.getLogger().removeHandler(errors)
            if run is not None:
                await run.services.db_engine.dispose()
            await checker.stop()
            await standin.stop()
            await _drop(name)
    return results


# --- the database checks (their own process) ---------------------------------------------------


def _values(value: Any) -> set[str]:
    if value is None:
        return set()
    return {str(v) for v in value} if isinstance(value, list) else {str(value)}


async def _check_answers(
    sessions: Any, expected: dict[str, dict[str, Any]], reported: set[str]
) -> dict[str, Any]:
    """Lost: an answer acknowledged on screen that the database does not hold. Doubled: a
    single-choice question holding two answers, or answer rows beyond what the check-in holds."""
    from sqlalchemy import select

    from db.models import CheckIn, CheckInAnswer, User

    lost: list[str] = []
    doubled: list[str] = []
    closed: list[int] = []
    async with sessions() as session:
        rows: dict[int, dict[str, list[str]]] = {}
        for checkin_id, question, value in (
            await session.execute(
                select(CheckInAnswer.checkin_id, CheckInAnswer.question, CheckInAnswer.value)
            )
        ).all():
            rows.setdefault(checkin_id, {}).setdefault(question, []).append(value)
        checkins = {
            c.id: c
            for c in (
                await session.execute(
                    select(CheckIn.id, CheckIn.status, CheckIn.state, CheckIn.pain_score)
                )
            ).all()
        }
        users = set((await session.scalars(select(User.telegram_id))).all())
    steps = STEPS
    for checkin_id_text, followed in expected.items():
        checkin_id = int(checkin_id_text)
        answers: dict[str, Any] = followed["answers"]
        checkin = checkins.get(checkin_id)
        if checkin is None:
            closed.append(checkin_id)
            if followed["person"] in users:  # gone with its person's data is not lost
                lost += [f"check-in {checkin_id} gone ({step})" for step in answers]
            continue
        if checkin.status != "open":
            closed.append(checkin_id)
        state = (checkin.state or {}).get("answers", {})
        for step, value in answers.items():
            if step == "pain":
                stored = checkin.pain_score
                ok = stored is not None and (value is None or stored == int(value))
            else:
                ok = step in state and (value is None or _values(state[step]) == _values(value))
            if not ok:
                lost.append(f"check-in {checkin_id}: {step} acknowledged as {value!r}, not stored")
    for checkin_id, checkin in checkins.items():
        stored_rows = rows.get(checkin_id, {})
        if checkin.status == "open" and not stored_rows:
            continue  # while open the state holds the answers (rows are written at the end)
        state = (checkin.state or {}).get("answers", {})
        for question, values in stored_rows.items():
            if question not in steps or question == "pain":
                continue
            if ENGINE.kind(Step(question)) != "multi" and len(values) > 1:
                doubled.append(f"check-in {checkin_id}: {len(values)} answers to {question}")
            extra = set(values) - _values(state.get(question))
            if extra:
                doubled.append(f"check-in {checkin_id}: {question} rows {sorted(extra)} extra")
        for question, value in state.items():
            missing = _values(value) - set(stored_rows.get(question, ()))
            if question in steps and question != "pain" and missing:
                lost.append(f"check-in {checkin_id}: {question} {sorted(missing)} not in rows")
    new_lost = [x for x in lost if x not in reported]
    new_doubled = [x for x in doubled if x not in reported]
    reported.update(new_lost, new_doubled)
    return {"lost": new_lost, "doubled": new_doubled, "closed": closed}


async def check_database(url: str) -> None:
    """Read requests (one JSON line each) on standard input; answer each with one JSON line."""
    from db.session import create_engine, create_sessionmaker

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    holder = SimpleNamespace(services=SimpleNamespace(sessions=sessions))
    reported: set[str] = set()
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            request = json.loads(line)
            started = time.perf_counter()
            result = await _check_answers(sessions, request["expected"], reported)
            result["invariants"] = await invariants(holder)  # type: ignore[arg-type]
            result["seconds"] = round(time.perf_counter() - started, 3)
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
    finally:
        await engine.dispose()


# --- the page -----------------------------------------------------------------------------------

FINDINGS = (
    ("Other unhandled errors", "error_kinds_other"),
    ("Invariant violations", "first_violations"),
    ("Lost answers", "first_lost"),
    ("Doubled answers", "first_doubled"),
    ("Check-ins shown to the wrong person", "first_crossed"),
)
_FIGURES = re.compile(r"<!-- figures: (\{.*\}) -->", re.S)


def _machine() -> str:
    return f"{os.cpu_count()} cores, CPython {platform.python_version()}"


def _row(r: dict[str, Any]) -> str:
    latency = r["reply_latency"]
    return (
        f"| {r['updates']:,} | {r['updates_per_second']} | {r['errors_fault']} | "
        f"**{r['errors_other'] + r['errors_escaped']}** | **{r['invariant_violations']}** | "
        f"**{r['lost_answers']}** | **{r['doubled_answers']}** | "
        f"{latency['p50_ms']:.0f} / {latency['p95_ms']:.0f} / {latency['max_ms']:.0f} | "
        f"{r['memory_start_mb']} | {r['memory_mid_mb']} | {r['memory_end_mb']} |"
    )


def _flood_rows(f: dict[str, Any]) -> list[str]:
    lines = [
        "| the other people's replies | updates | p50 ms | p95 ms | max ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, key in (("before the flood", "without"), ("during the flood", "during"),
                       ("after the flood", "after")):  # fmt: skip
        figures = f[key]
        lines.append(
            f"| {label} | {figures['count']} | {figures['p50_ms']} | {figures['p95_ms']} | "
            f"{figures['max_ms']} |"
        )
    return lines


def render(parts: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Reliability run",
        "",
        "A long run that tries to break the bot, through the real Application as production runs "
        "it: many people at once, each person's own updates one after another through the "
        "per-person update processor (handlers/ordering.py), every Bot API call over HTTP to the "
        "stand-in (tests/botapi.py), which runs in a process of its own. Each update is one of:",
        "",
    ]
    lines += [f"- {what} ({share:.0%})" for what, share in MIX]
    lines += [
        "",
        "A share of sendMessage, editMessageText and answerCallbackQuery calls fail, as an "
        "unlucky network would: 500/502/503, 429 with retry_after (python-telegram-bot's rate "
        "limiter retries those, as in production), 'query is too old', and timeouts (the answer "
        "held past the transport's 5 s read timeout; Telegram performed half of those calls "
        "all the same, as it sometimes does). Every 1,000 updates "
        "the traffic pauses, the clock moves 5 minutes, the escalation outbox and housekeeping "
        "jobs run, and the database is checked in a separate process: the invariants of "
        "tests/fuzz.py and every answer people were shown as saved. At the end the faults stop, "
        "the outbox runs once more and everything is checked again.",
        "",
        "    python -m benchmarks.reliability --updates 100000 --flood",
        "",
        "Options: `--updates N` (per database; 0 skips the long run), `--people N` (default "
        "200), `--database sqlite|postgres|both`, `--faults RATE` (default 0.05), `--flood` "
        "(the flood below), `--max-minutes M` (stop the long run at the first checkpoint after "
        "M minutes). A run rewrites this page, keeping the parts it did not redo.",
    ]
    for kind in ("sqlite", "postgres"):
        part = parts.get(kind)
        if not part:
            continue
        title = "SQLite" if kind == "sqlite" else "PostgreSQL"
        lines += ["", f"## {title}", ""]
        run = part.get("run")
        if run:
            lines += [
                f"Run on {run['date']} with `{run['command']}` ({run['machine']}): "
                f"{run['people']} people, {run['fault_rate']:.0%} of those calls failing "
                f"({run['faults_injected']:,} of {run['bot_api_calls']:,} Bot API calls).",
                "",
                "| updates | updates/s | unhandled errors, from injected faults | unhandled "
                "errors, other | invariant violations | lost answers | doubled answers | reply "
                "ms p50 / p95 / max | memory MB at start | at half-way | at the end (after gc) |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
                _row(run),
            ]
            if run.get("stopped_at_time_limit"):
                lines += [
                    "",
                    f"Stopped at the time limit after {run['updates']:,} updates "
                    f"({run['wall_seconds'] / 60:.0f} minutes).",
                ]
            series = ", ".join(f"{n:,}: {mb}" for n, mb in run["memory_series"])
            lines += [
                "",
                f"Memory of the bot's process (MB) by updates: {series}. The stand-in's own "
                f"process: {run['standin_start_mb']} MB at the start, {run['standin_end_mb']} "
                f"MB at the end."
                + (
                    f" The text reader's worker process (bot/reading.py): "
                    f"{run['reader_start_mb']} MB at the start, {run['reader_end_mb']} MB at the "
                    f"end ({run['reader_restarts']} restart(s))."
                    if "reader_start_mb" in run
                    else ""
                ),
                "",
                f"{run['acknowledged_answers']:,} answers were acknowledged on screen; the "
                f"answers of {run['answers_verified_closed']:,} closed check-ins were checked "
                f"against the database, besides the open ones at every checkpoint "
                f"({run['checkins_not_checked']} check-ins left unchecked after a Back whose "
                f"reply failed). {run['apologies']:,} apologies were sent ('Sorry, something "
                f"went wrong'); {run['updates_without_reply']:,} updates had no reply at all (a "
                f"repeat, a tap answered only by a failed call); the flood limit turned "
                f"{run['slow_downs']} person(s) away.",
            ]
            for label, key in FINDINGS:
                if run.get(key):
                    lines += ["", f"{label}: {run[key]}"]
        flood = part.get("flood")
        if flood:
            lines += [
                "",
                f"### A flood ({title})",
                "",
                f"Run on {flood['date']} with `{flood['command']}` ({flood['machine']}), no "
                f"injected faults, everything through long polling: the real Updater fetches "
                f"the stand-in's queue 100 updates at a time, as from Telegram. One person's "
                f"{flood['messages']:,} messages are put in the queue at once while "
                f"{flood['others']} others check in, each tapping every "
                f"{flood['think_seconds'][0]:g}-{flood['think_seconds'][1]:g} s; what the others "
                f"send during the flood is queued behind it, as Telegram would. The limit is "
                f"{flood['limit']} (FLOOD_MAX_UPDATES, FLOOD_WINDOW_SECONDS). The flood lasted "
                f"{flood['flood_seconds']} s (from queueing it to the flooder's last handled "
                f"update). Latency: from queueing an update to the first thing the person sees. "
                f"The bot's jobs (the reminder sweep, the outbox) run meanwhile, as in "
                f"production.",
                "",
                *_flood_rows(flood),
                "",
                f"The flooder: {flood['handled']:,} updates handled, "
                f"{flood.get('dropped_unparsed', 0):,} dropped before they were parsed "
                f"(bot/intake.py: beyond twice the limit), "
                f"{flood.get('dropped_waiting', 0):,} dropped at once because "
                f"{flood.get('max_waiting', 20)} of theirs were already waiting "
                f"(handlers/ordering.py), "
                f"{flood['dropped']:,} dropped by the rate limit, "
                f"{flood['slow_down_messages']} 'slow down' message(s) "
                f"({flood['replies_to_flooder']} replies in all). Memory of the bot's process: "
                f"{flood['memory_before_mb']} MB before, {flood['memory_peak_mb']} MB at the "
                f"peak, {flood['memory_after_mb']} MB after (after gc).",
            ]
    lines += [
        "",
        "## What the columns mean",
        "",
        "- **updates**: updates delivered to the bot (a repeat counts each time). updates/s "
        "leaves out the checkpoints.",
        "- **unhandled errors**: errors that reached the error handler (it logs them and sends "
        "the person an apology). *From injected faults*: a Bot API error on an update during "
        "which the stand-in failed a call on purpose: the bot could not reply, and said sorry "
        "when it could. *Other*: anything else, including an error that escaped the "
        "Application. Target: 0 other.",
        "- **invariant violations**: distinct breaches of the database invariants of "
        "tests/fuzz.py (one open check-in per person at most, a finished check-in is not open, "
        "escalations never above the check-in's own tier, no alert twice, no NUL byte stored). "
        "Target: 0.",
        "- **lost answers**: an answer the person was shown as saved (the next question, the "
        "summary, or 'Saved' above advice appeared) that the database does not hold afterwards, "
        "unless the person went back over it. Target: 0.",
        "- **doubled answers**: a question answered once that holds two answers (two values for "
        "a single-choice question, answer rows beyond the check-in's own), or one question shown "
        "as saved twice. Target: 0.",
        "- **reply ms**: from handing the update to the processor to the first Bot API call the "
        "stand-in received for that chat (429s retried after a second are in it).",
        "- **memory**: resident memory of the process that runs the Application (and the "
        "people driving it, whose bookkeeping is bounded by the number of people), with the "
        "text reader's worker process (bot/reading.py) "
        "counted apart. Target: flat from half-way to the end.",
        "- **flood**: fairness target: the others' replies during the flood within a second of "
        "what they are without it; memory back to its level before the flood.",
        "",
    ]
    notes = parts.get("notes", {}).get("lines", [])
    if notes:
        lines += ["## Notes on these runs", "", *notes, ""]
    lines += [
        "Alongside: the hypothesis state machine in the test suite (tests/test_state_machine.py) "
        "checks the same invariants after every step with no faults and no error allowed, and "
        "tests/test_crash.py kills the process with SIGKILL mid check-in and finds every "
        "acknowledged answer after the restart.",
        "",
        f"<!-- figures: {json.dumps(parts, sort_keys=True)} -->",
        "",
    ]
    return "\n".join(lines)


def write(results: dict[str, dict[str, Any]], command: str) -> Path:
    parts: dict[str, dict[str, Any]] = {}
    if DOC.exists():
        found = _FIGURES.search(DOC.read_text())
        if found:
            with contextlib.suppress(ValueError):
                parts = json.loads(found.group(1))
    stamp = {"date": f"{datetime.now(UTC):%Y-%m-%d}", "command": command, "machine": _machine()}
    for kind, result in results.items():
        for name, figures in result.items():
            parts.setdefault(kind, {})[name] = {**figures, **stamp}
    DOC.write_text(render(parts))
    return DOC


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reliability")
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--faults", type=float, default=0.05)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--flood", action="store_true")
    parser.add_argument("--flood-messages", type=int, default=10_000)
    parser.add_argument("--flood-others", type=int, default=50)
    parser.add_argument("--flood-baseline", type=float, default=20.0)
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    parser.add_argument("--trace-memory", action="store_true",
                        help="print where memory grew (slow; implies --no-write)")  # fmt: skip
    parser.add_argument("--count-objects", action="store_true",
                        help="print which objects grew in number (implies --no-write)")  # fmt: skip
    parser.add_argument("--check-database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit_arenas()  # as python -m bot run does, before any thread starts (bot/memory.py)
    if args.check_database:
        asyncio.run(check_database(args.check_database))
        return
    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    command = "python -m benchmarks.reliability " + shlex.join(sys.argv[1:])
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        results[kind] = asyncio.run(run_database(kind, args))
        print(json.dumps({kind: results[kind]}, default=str), flush=True)
    if not (args.no_write or args.trace_memory or args.count_objects):
        print(write(results, command.strip()))


if __name__ == "__main__":
    main()
