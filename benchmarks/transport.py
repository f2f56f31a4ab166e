"""The Bot API transport: calls per second and the client's CPU per call, for PTB's default
``HTTPXRequest`` (the baseline) and ``bot.transport.AiohttpRequest``, one call at a time and with
64 callers at once, with a bare aiohttp POST loop as the floor. Results go to
benchmarks/transport.md; nothing here asserts timings.

    python -m benchmarks.transport                 about a minute on an idle machine
    python -m benchmarks.transport --calls 5000    more calls per measurement

The Bot API stand-in from tests/ serves on 127.0.0.1 in a process of its own (this module with
``--serve``), so the CPU measured here (``time.process_time()`` of this process) is the client's
alone. Each figure is the median of three rounds; the clients take turns within a round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.transport import AiohttpRequest
from tests.botapi import BotApiStandIn

ROOT = Path(__file__).parents[1]
TOKEN = "123456:benchmark-token"
CHAT_ID = 1001
CONCURRENT = 64
ROUNDS = 3
TEXT = (
    "<b>How much does your back hurt right now?</b>\n"
    "0 is no pain, 10 is the worst pain you can imagine. Tap a number — you can change it "
    "before you tap Done ▶. Your answers stay private: only you (and caregivers you invite) "
    "see them."
)
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton(str(n), callback_data=f"c:1:score:{n}") for n in range(6)],
        [InlineKeyboardButton(str(n), callback_data=f"c:1:score:{n}") for n in range(6, 11)],
        [InlineKeyboardButton("✖ Cancel", callback_data="c:1:cancel")],
    ]
)

Call = Callable[[], Awaitable[object]]


# --- the server, in its own process ---------------------------------------------------------


async def _serve() -> None:
    api = BotApiStandIn(TOKEN)
    await api.start()
    print(api.port, flush=True)

    async def forget() -> None:
        # Nothing reads them here; kept, they would grow the heap and slow the collector.
        while True:
            await asyncio.sleep(0.5)
            api.calls.clear()
            api.messages.clear()

    forgetting = asyncio.create_task(forget())
    # Until the benchmark closes our standard input.
    await asyncio.to_thread(sys.stdin.read)
    forgetting.cancel()
    await api.stop()


def start_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.transport", "--serve"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/bot{TOKEN}"


def stop_server(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the clients ------------------------------------------------------------------------------


def send_message_data() -> RequestData:
    """What ``bot.send_message`` hands its transport for a check-in question."""
    params = {"chat_id": CHAT_ID, "text": TEXT, "parse_mode": "HTML", "reply_markup": KEYBOARD}
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


class Client:
    """One way of making the call, set up and torn down around each measurement."""

    name = ""

    async def open(self, base_url: str) -> Call:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class TransportClient(Client):
    """``request.post()``: the transport plus PTB's status handling and JSON parsing."""

    def __init__(self, name: str, make: Callable[[], BaseRequest]) -> None:
        self.name = name
        self.make = make
        self.request: BaseRequest | None = None

    async def open(self, base_url: str) -> Call:
        request = self.request = self.make()
        await request.initialize()
        url = f"{base_url}/sendMessage"
        data = send_message_data()
        return lambda: request.post(url, data)

    async def close(self) -> None:
        assert self.request is not None
        await self.request.shutdown()


class BotClient(Client):
    """``bot.send_message()``: everything the bot pays per message, PTB's own work included."""

    def __init__(self, name: str, make: Callable[[], BaseRequest]) -> None:
        self.name = name
        self.make = make
        self.bot: Bot | None = None

    async def open(self, base_url: str) -> Call:
        bot = self.bot = Bot(
            TOKEN,
            base_url=base_url.removesuffix(TOKEN),
            request=self.make(),
            get_updates_request=self.make(),
        )
        await bot.initialize()
        return lambda: bot.send_message(CHAT_ID, TEXT, parse_mode="HTML", reply_markup=KEYBOARD)

    async def close(self) -> None:
        assert self.bot is not None
        await self.bot.shutdown()


class RawClient(Client):
    """A bare aiohttp POST of the same JSON body, built once, its answer read: no PTB at all."""

    name = "bare aiohttp POST (floor)"

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None

    async def open(self, base_url: str) -> Call:
        session = self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(),  # none at all: aiohttp's default has a total one
        )
        url = f"{base_url}/sendMessage"
        data = send_message_data()
        body = json.dumps(data.parameters).encode()  # what AiohttpRequest sends, built once
        headers = {"Content-Type": "application/json"}

        async def call() -> bytes:
            async with session.post(url, data=body, headers=headers) as response:
                return await response.read()

        return call

    async def close(self) -> None:
        assert self.session is not None
        await self.session.close()


def clients() -> list[Client]:
    return [
        TransportClient("HTTPXRequest (PTB's default)", HTTPXRequest),
        TransportClient("AiohttpRequest", AiohttpRequest),
        RawClient(),
        BotClient("bot.send_message over HTTPXRequest", HTTPXRequest),
        BotClient("bot.send_message over AiohttpRequest", AiohttpRequest),
    ]


# --- measuring --------------------------------------------------------------------------------


async def measure(call: Call, calls: int, concurrency: int) -> tuple[float, float]:
    """Calls per second and CPU milliseconds per call, ``concurrency`` callers at once."""
    each = max(1, calls // concurrency)

    async def caller() -> None:
        for _ in range(each):
            await call()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = each * concurrency
    return done / wall, cpu * 1000 / done


async def run(base_url: str, calls: int) -> dict[str, dict[str, dict[str, float]]]:
    samples: dict[tuple[str, int], list[tuple[float, float]]] = {}
    names = [c.name for c in clients()]
    for _ in range(ROUNDS):
        for client in clients():
            call = await client.open(base_url)
            try:
                for concurrency in (1, CONCURRENT):
                    await measure(call, max(CONCURRENT, calls // 10), concurrency)  # warm up
                    result = await measure(call, calls, concurrency)
                    samples.setdefault((client.name, concurrency), []).append(result)
            finally:
                await client.close()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        for concurrency, label in ((1, "sequential"), (CONCURRENT, "concurrent")):
            runs = samples[(name, concurrency)]
            results.setdefault(name, {})[label] = {
                "calls_per_second": statistics.median(r[0] for r in runs),
                "cpu_ms_per_call": statistics.median(r[1] for r in runs),
            }
    return results


# --- the report -------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write(
    results: dict[str, dict[str, dict[str, float]]], calls: int, load: tuple[float, float]
) -> Path:
    base = results["HTTPXRequest (PTB's default)"]
    ours = results["AiohttpRequest"]
    lines = [
        "# Bot API transport",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d} with `python -m benchmarks.transport` "
        f"({platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {_cpu_model()}; python-telegram-bot "
        f"{version('python-telegram-bot')}, httpx {version('httpx')}, aiohttp "
        f"{version('aiohttp')}). Load average (1 min) {load[0]:.1f} at the start, {load[1]:.1f} "
        "at the end: other work on the machine lowers calls/s and raises CPU per call.",
        "",
        "Each call is a `sendMessage` of a check-in question (text and an 11-button keyboard) to "
        "the Bot API stand-in from tests/, served over HTTP on 127.0.0.1 by a process of its own; "
        "CPU is this client process's alone (`time.process_time()`). Figures are medians of "
        f"{ROUNDS} rounds of {calls} calls each, one caller or {CONCURRENT} callers at once.",
        "",
        f"| client | calls/s, 1 caller | CPU ms/call, 1 caller | calls/s, {CONCURRENT} callers "
        f"| CPU ms/call, {CONCURRENT} callers |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results.items():
        seq, con = result["sequential"], result["concurrent"]
        lines.append(
            f"| {name} | {seq['calls_per_second']:.0f} | {seq['cpu_ms_per_call']:.3f} "
            f"| {con['calls_per_second']:.0f} | {con['cpu_ms_per_call']:.3f} |"
        )
    lines += [
        "",
        "The first two rows are the transport alone (`request.post()`: encoding the parameters, "
        "the HTTP call, PTB's status handling and JSON parsing); the floor posts the same JSON "
        "body, encoded once, and reads the answer, with no PTB at all. The last two rows are the "
        "whole `bot.send_message()`, PTB's own work on the parameters and the returned Message "
        "included. HTTPXRequest sends a url-encoded form, AiohttpRequest JSON (uploads: the same "
        "multipart bytes).",
        "",
        "AiohttpRequest's CPU per call is "
        f"{ours['sequential']['cpu_ms_per_call'] / base['sequential']['cpu_ms_per_call']:.0%} "
        "of HTTPXRequest's with one caller and "
        f"{ours['concurrent']['cpu_ms_per_call'] / base['concurrent']['cpu_ms_per_call']:.0%} "
        f"with {CONCURRENT}. With many callers the stand-in (one process, one core of this "
        "machine's few) can bound calls/s before the client does; CPU per call is the figure "
        "that carries over to real Telegram, where the network, not the client, sets the pace.",
        "Figures from different days or machines are not comparable.",
        "",
    ]
    path = ROOT / "benchmarks" / "transport.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transport")
    parser.add_argument("--calls", type=int, default=1000, help="calls per measurement")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve())
        return 0
    load_before = os.getloadavg()[0]
    process, base_url = start_server()
    try:
        results: dict[str, Any] = asyncio.run(run(base_url, args.calls))
    finally:
        stop_server(process)
    load = (load_before, os.getloadavg()[0])
    print(json.dumps(results, indent=2))
    print(f"written to {write(results, args.calls, load).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
