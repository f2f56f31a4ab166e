"""``python -m bot demo``: try the bot in a terminal, without a token or a network.

The real Application runs against a small Bot API stand-in served on 127.0.0.1 in the same
process, on a temporary SQLite file that is deleted at the end. The bot's messages are printed
with their buttons numbered; type a number to tap a button, or type text and commands as in
Telegram. Lines starting with ``:`` are for the demo itself:

- ``:next`` moves the bot's clock to the next reminder, which then arrives;
- ``:later 2h`` (or ``30m``, ``1d``) moves the bot's clock forward (a reminder more than two hours
  overdue is skipped, as after a long downtime);
- ``:help`` lists these; ``:quit`` (or the end of the input) stops.

Nothing is sent anywhere: the stand-in only prints."""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web
from aiohttp.web_request import FileField
from pydantic import SecretStr

DEMO_TOKEN = "1000:demo-token-not-a-real-one"  # noqa: S105 - the stand-in takes any token
BOT = {"id": 1000, "is_bot": True, "first_name": "Back pain diary", "username": "BackPainDemoBot"}
PERSON = {"id": 7, "is_bot": False, "first_name": "Alex", "language_code": "en"}
HELP = (
    "Type a number to tap that button, or type text and commands (/checkin, /history, "
    "/settings, /help). ':next' moves the clock to the next reminder, ':later 2h' moves it "
    "forward, ':quit' stops."
)


class ShiftedClock:
    """The system clock, moved forward by the demo's ``:later``."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Shown:
    message_id: int
    text: str
    inline: list[list[dict[str, Any]]] = field(default_factory=list)
    reply: list[list[dict[str, Any]]] = field(default_factory=list)


class TerminalApi:
    """The Bot API methods the bot uses, printing what the person would see."""

    def __init__(self, out: TextIO, folder: Path) -> None:
        self.out = out
        self.folder = folder
        self.messages: dict[int, Shown] = {}
        self.buttons: list[tuple[str, Any]] = []
        """What each number tapped means now: ("inline", (message, data)) or ("text", text)."""
        self._ids = itertools.count(1)
        self._files = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        params: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, FileField):
                params[key] = (value.filename, value.file.read())
                continue
            text = value if isinstance(value, str) else str(value)
            try:
                params[key] = json.loads(text)
            except ValueError:
                params[key] = text
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, f"_m_{method}", None)
        result = handler(params) if handler is not None else True
        return web.json_response({"ok": True, "result": result})

    # --- what the person sees ---------------------------------------------------------------

    def message_json(self, shown: Shown) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": shown.message_id,
            "date": int(time.time()),
            "chat": {"id": PERSON["id"], "type": "private", "first_name": PERSON["first_name"]},
            "from": BOT,
            "text": shown.text,
        }
        if shown.inline:
            data["reply_markup"] = {"inline_keyboard": shown.inline}
        return data

    def _show(self, shown: Shown, edited: bool = False) -> None:
        text = html.unescape(re.sub(r"<[^>]+>", "", shown.text)).strip()
        print(("bot (updated): " if edited else "bot: ") + text.replace("\n", "\n     "),
              file=self.out)  # fmt: skip
        self.buttons = []
        for row in shown.inline:
            for button in row:
                if "callback_data" in button:
                    self.buttons.append(("inline", (shown, button["callback_data"])))
                    print(f"  [{len(self.buttons)}] {button['text']}", file=self.out)
                elif "url" in button:
                    print(f"  (link: {button['text']})", file=self.out)
        for row in shown.reply:
            for button in row:
                if button.get("request_location"):
                    continue  # a location cannot be shared from a terminal
                self.buttons.append(("text", button["text"]))
                print(f"  [{len(self.buttons)}] {button['text']}", file=self.out)
        self.out.flush()

    def _keyboards(self, params: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return list(markup.get("inline_keyboard") or []), list(markup.get("keyboard") or [])

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT

    def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        return []

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        inline, reply = self._keyboards(params)
        shown = Shown(next(self._ids), str(params.get("text", "")), inline, reply)
        self.messages[shown.message_id] = shown
        self._show(shown)
        return self.message_json(shown)

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        shown = self.messages.get(int(params.get("message_id") or 0))
        if shown is None:
            return True
        shown.text = str(params.get("text", ""))
        shown.inline, _ = self._keyboards(params)
        self._show(shown, edited=True)
        return self.message_json(shown)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        shown = self.messages.get(int(params.get("message_id") or 0))
        if shown is None:
            return True
        shown.inline, _ = self._keyboards(params)
        self._show(shown, edited=True)
        return self.message_json(shown)

    def _saved(self, params: dict[str, Any], field_name: str, kind: str) -> Any:
        filename, content = params.get(field_name) or (f"{kind}.bin", b"")
        path = self.folder / f"{next(self._files)}-{Path(str(filename)).name}"
        path.write_bytes(content if isinstance(content, bytes) else str(content).encode())
        caption = html.unescape(re.sub(r"<[^>]+>", "", str(params.get("caption") or "")))
        print(f"bot: [{kind}: {path}] {caption}".rstrip(), file=self.out)
        inline, reply = self._keyboards(params)
        shown = Shown(next(self._ids), caption, inline, reply)
        self.messages[shown.message_id] = shown
        if inline or reply:
            self._show(shown)
        self.out.flush()
        return self.message_json(shown)

    def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._saved(params, "photo", "picture")

    def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._saved(params, "document", "file")


class Demo:
    def __init__(self, inp: TextIO, out: TextIO) -> None:
        self.inp = inp
        self.out = out
        self.clock = ShiftedClock()
        self._updates = itertools.count(1)
        self._queries = itertools.count(1)

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._updates), **body}

    def text(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._updates) + 100_000,
            "date": int(time.time()),
            "chat": {"id": PERSON["id"], "type": "private", "first_name": PERSON["first_name"]},
            "from": PERSON,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._update({"message": message})

    def tap(self, api: TerminalApi, shown: Shown, data: str) -> dict[str, Any]:
        return self._update(
            {
                "callback_query": {
                    "id": str(next(self._queries)),
                    "from": PERSON,
                    "chat_instance": "demo",
                    "data": data,
                    "message": api.message_json(shown),
                }
            }
        )

    async def run(self) -> int:
        from telegram import Update

        from bot.config import Settings
        from db.migrate import upgrade
        from handlers.app import build_application

        with tempfile.TemporaryDirectory(prefix="msbot-demo-") as folder:
            where = Path(folder)
            api = TerminalApi(self.out, where)
            await api.start()
            url = f"sqlite+aiosqlite:///{where / 'demo.db'}"
            await asyncio.to_thread(upgrade, url)
            settings = Settings(
                telegram_bot_token=SecretStr(DEMO_TOKEN),
                telegram_base_url=api.base_url,
                telegram_base_file_url=api.base_url.replace("/bot", "/file/bot"),
                database_url=url,
                health_port=0,
            )
            app = build_application(settings, clock=self.clock, rate_limit=False)
            print(f"Demo: a bot on a temporary database, no token, no network. {HELP}",
                  file=self.out)  # fmt: skip
            try:
                async with app:
                    await app.start()
                    await self._loop(app, api, Update)
                    await app.stop()
            finally:
                await api.stop()
        return 0

    async def _loop(self, app: Any, api: TerminalApi, update_type: Any) -> None:
        async def handle(body: dict[str, Any]) -> None:
            update = update_type.de_json(body, app.bot)
            await app.update_processor.process_update(update, app.process_update(update))

        await handle(self.text("/start"))
        while True:
            print("> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(self.inp.readline)
            if not line:
                print("", file=self.out)
                return
            entry = line.strip()
            if not entry:
                continue
            if entry in (":quit", ":q", ":exit"):
                return
            if entry == ":help":
                print(HELP, file=self.out)
            elif entry == ":next":
                await self._next(app)
            elif entry.startswith(":later"):
                await self._later(app, entry.removeprefix(":later").strip())
            elif entry.isdigit():
                number = int(entry)
                if not 1 <= number <= len(api.buttons):
                    print(f"(no button {number}: choose 1 to {len(api.buttons)})", file=self.out)
                    continue
                kind, what = api.buttons[number - 1]
                if kind == "inline":
                    shown, data = what
                    await handle(self.tap(api, shown, data))
                else:
                    await handle(self.text(str(what)))
            elif entry.startswith(":"):
                print(f"(unknown demo command {entry.split()[0]}; :help lists them)", file=self.out)
            else:
                await handle(self.text(entry))

    async def _next(self, app: Any) -> None:
        from sqlalchemy import func, select

        from db.models import ReminderRule

        services = app.bot_data["services"]
        async with services.sessions() as session:
            due = await session.scalar(
                select(func.min(ReminderRule.fire_at)).where(ReminderRule.active.is_(True))
            )
        if due is None:
            print("(no reminder is set: choose a time in /settings)", file=self.out)
            return
        self.clock.offset += max(timedelta(), due - self.clock.now()) + timedelta(seconds=1)
        await self._moved(app)

    async def _moved(self, app: Any) -> None:
        local = self.clock.now().strftime("%Y-%m-%d %H:%M UTC")
        print(f"(the clock moves on: it is now {local})", file=self.out)
        sweeper = app.bot_data["services"].sweeper
        if sweeper is not None:
            await sweeper.run_once()  # what the sweep job would do within seconds

    async def _later(self, app: Any, amount: str) -> None:
        match = re.fullmatch(r"(\d+)\s*([mhd])", amount or "1h")
        if match is None:
            print("(say how much later: 30m, 2h or 1d)", file=self.out)
            return
        unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        self.clock.offset += timedelta(**{unit: int(match.group(1))})
        await self._moved(app)


def main(inp: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    from bot.__main__ import new_event_loop

    loop = new_event_loop()
    try:
        return loop.run_until_complete(Demo(inp, out).run())
    finally:
        loop.close()
