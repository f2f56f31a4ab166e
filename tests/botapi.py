"""A stand-in for the Telegram Bot API, served over real HTTP on 127.0.0.1.

It keeps what a chat would show (each message with its text and buttons, edits applied), answers
the methods the bot uses, serves ``getUpdates`` for long polling, and can be told to fail a method
(for example with 429 and ``retry_after``), answer late (a timeout), or answer slowly. Tests only:
it never lives in the product.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.web_request import FileField

from bot.transport import AiohttpRequest

BOT_ID = 4242
BOT_USERNAME = "ms_backpain_test_bot"

CLIENT_READ_TIMEOUT = 1.0
"""The read timeout of :func:`client_request`: short, so a test waits little for a timeout, yet
long enough that a busy event loop does not make the stand-in's prompt answers time out."""


def client_request(read_timeout: float = CLIENT_READ_TIMEOUT) -> AiohttpRequest:
    """The bot's HTTP client for tests of timeouts: ``build_application(..., request=...)``.
    (The Application uses it for getUpdates too, which adds its long-poll time to the read
    timeout.)"""
    return AiohttpRequest(
        connection_pool_size=32,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
        connect_timeout=read_timeout,
        pool_timeout=read_timeout,
    )


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    ok: bool = True
    """False when the bot got no success answer: the stand-in failed the call, or held its
    answer past the client's timeout."""
    took_effect: bool = True
    """Whether the chat changed as the method asked. False for a failed call; a timeout takes
    effect or not (Telegram sometimes performs a method although the client timed out)."""
    fault: str | None = None
    """The injected fault: ``5xx``, ``429``, ``too_old`` or ``timeout``."""


@dataclass
class ChatMessage:
    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    parse_mode: str | None = None
    photo: bytes | None = None
    document: bytes | None = None

    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]

    def labels(self) -> list[str]:
        return [b["text"] for b in self.buttons()]


class BotApiStandIn:
    """The fake Bot API. Start with ``await api.start()``; ``api.base_url`` is PTB's base_url."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], ChatMessage] = {}
        self.failures: dict[str, list[tuple[int, str, int | None]]] = {}
        self.timeouts: dict[str, list[bool]] = {}
        self.blocked_chats: set[int] = set()
        self.fault_rate = 0.0
        """Share of calls to ``fault_methods`` that fail at random with a 5xx error."""
        self.fault_methods: frozenset[str] = frozenset()
        self.faults = random.Random(0)
        self.fault_kinds: tuple[str, ...] = ("5xx",)
        self.timeout_delay = CLIENT_READ_TIMEOUT + 0.25
        """How long a ``timeout`` fault holds its answer: must exceed the client's read timeout."""
        self.delays: dict[str, float] = {}
        """Seconds each call of a method takes before it is performed (see :meth:`slow`)."""
        self._stopping = asyncio.Event()
        self._ids = itertools.count(1000)
        self._update_ids = itertools.count(1)
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.webhook: dict[str, Any] | None = None
        """What the bot registered with setWebhook (url, secret_token, allowed_updates)."""

    # --- server ---------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        self._stopping.set()  # answers being held are given at once: teardown never waits
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, FileField):
                params[key] = value.file.read()
                continue
            text = value if isinstance(value, str) else str(value)
            try:
                params[key] = json.loads(text)
            except ValueError:
                params[key] = text
        return params

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the stand-in is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    @staticmethod
    def _refuse(
        call: Call, code: int, description: str, retry_after: int | None = None
    ) -> web.Response:
        call.ok = call.took_effect = False
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    async def _perform(self, method: str, params: dict[str, Any]) -> Any:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return True
        result = await handler(params)
        self._changed.set()
        return result

    async def _time_out(self, call: Call, took_effect: bool) -> web.Response:
        """Answer only after ``timeout_delay``, when the client has given up; the method is
        performed first if ``took_effect``."""
        call.fault = "timeout"
        call.ok = False
        call.took_effect = took_effect
        result = await self._perform(call.method, call.params) if took_effect else None
        await self._hold(self.timeout_delay)
        if took_effect:
            return web.json_response({"ok": True, "result": result})
        return web.json_response(
            {"ok": False, "error_code": 504, "description": "Gateway Timeout"}, status=504
        )

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        if method != "getUpdates":
            self.calls.append(call)
        if method.startswith("send") and int(params.get("chat_id") or 0) in self.blocked_chats:
            return self._refuse(call, 403, "Forbidden: bot was blocked by the user")
        if method in self.fault_methods and self.faults.random() < self.fault_rate:
            kind = call.fault = self.faults.choice(self.fault_kinds)
            if kind == "429":
                return self._refuse(call, 429, "Too Many Requests: retry after 1", retry_after=1)
            if kind == "too_old" and method == "answerCallbackQuery":
                description = "Bad Request: query is too old and response timeout expired"
                return self._refuse(call, 400, description)
            if kind == "timeout":
                # Whether Telegram performed the method, the bot cannot know: here half did.
                return await self._time_out(call, self.faults.random() < 0.5)
            call.fault = "5xx"
            code = self.faults.choice((500, 502, 503))
            return self._refuse(call, code, "Internal Server Error")
        timeouts = self.timeouts.get(method)
        if timeouts:
            return await self._time_out(call, timeouts.pop(0))
        queued = self.failures.get(method)
        if queued:
            code, description, retry_after = queued.pop(0)
            return self._refuse(call, code, description, retry_after)
        if method in self.delays:
            # Performed even if the client has gone meanwhile (it was killed, or timed out):
            # the request had reached Telegram.
            await self._hold(self.delays[method])
        result = await self._perform(method, params)
        return web.json_response({"ok": True, "result": result})

    # --- methods --------------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Back pain diary",
            "username": BOT_USERNAME,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def message_json(self, message: ChatMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private"},
            "from": self._bot_user(),
            "text": message.text,
        }
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            # Telegram returns only inline keyboards on a message, never reply keyboards.
            data["reply_markup"] = message.reply_markup
        return data

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return self._bot_user()

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        message = ChatMessage(
            chat_id=int(params["chat_id"]),
            message_id=next(self._ids),
            text=str(params["text"]),
            reply_markup=params.get("reply_markup"),
            parse_mode=params.get("parse_mode"),
        )
        self.messages[(message.chat_id, message.message_id)] = message
        return self.message_json(message)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        photo = params["photo"]
        message = ChatMessage(
            chat_id=int(params["chat_id"]),
            message_id=next(self._ids),
            text=str(params.get("caption", "")),
            reply_markup=params.get("reply_markup"),
            photo=photo if isinstance(photo, bytes) else None,
        )
        self.messages[(message.chat_id, message.message_id)] = message
        data = self.message_json(message)
        data.pop("text")
        data["caption"] = message.text
        data["photo"] = [{"file_id": f"p{message.message_id}", "file_unique_id": "u",
                          "width": 800, "height": 600}]  # fmt: skip
        return data

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        document = params["document"]
        message = ChatMessage(
            chat_id=int(params["chat_id"]),
            message_id=next(self._ids),
            text=str(params.get("caption", "")),
            reply_markup=None,
            document=document if isinstance(document, bytes) else None,
        )
        self.messages[(message.chat_id, message.message_id)] = message
        data = self.message_json(message)
        data.pop("text")
        data["caption"] = message.text
        data["document"] = {"file_id": f"d{message.message_id}", "file_unique_id": "u"}
        return data

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        key = (int(params["chat_id"]), int(params["message_id"]))
        message = self.messages.get(key)
        if message is None:
            return True
        message.text = str(params["text"])
        message.reply_markup = params.get("reply_markup")
        return self.message_json(message)

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 100))
        deadline = time.monotonic() + min(timeout, 5.0)
        while True:
            # As Telegram: updates before the offset are confirmed and forgotten; at most
            # ``limit`` (100) per call.
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            ready = [u for u in self._updates if u["update_id"] >= offset][:limit]
            if ready or time.monotonic() >= deadline:
                return ready
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {k: params.get(k) for k in ("url", "secret_token", "allowed_updates")}
        return True

    async def deliver(
        self, address: str, update: dict[str, Any], *, secret: str | None = None, bare: bool = False
    ) -> int:
        """POST an update to a webhook server at ``address`` (http://127.0.0.1:port/path) as
        Telegram does, with the secret registered by setWebhook (or ``secret``, or none at all
        if ``bare``); the HTTP status of the answer."""
        headers = {"Content-Type": "application/json"}
        registered = self.webhook.get("secret_token") if self.webhook else None
        token = None if bare else (secret if secret is not None else registered)
        if token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(token)
        body = json.dumps(update)
        async with (
            aiohttp.ClientSession() as session,
            session.post(address, data=body, headers=headers) as response,
        ):
            return response.status

    # --- what tests use ---------------------------------------------------------------------------

    def fail(
        self, method: str, code: int, description: str, retry_after: int | None = None
    ) -> None:
        """Make the next call of ``method`` fail with this error."""
        self.failures.setdefault(method, []).append((code, description, retry_after))

    def time_out(self, method: str, *, took_effect: bool) -> None:
        """Make the next call of ``method`` time out: its answer is held for ``timeout_delay``
        seconds. With ``took_effect`` the method is performed all the same (the message is
        stored or edited), as Telegram sometimes does for a client that gave up waiting."""
        self.timeouts.setdefault(method, []).append(took_effect)

    def inject_faults(
        self,
        rate: float,
        *methods: str,
        seed: int = 0,
        kinds: tuple[str, ...] = ("5xx",),
    ) -> None:
        """From now on, fail this share of calls to ``methods``, as an unlucky network would:
        ``5xx`` (500, 502 or 503), ``429`` (retry after 1 s), ``too_old`` (a button answered
        too late; other methods get a 5xx instead), ``timeout`` (the answer is held for
        ``timeout_delay`` seconds, past the client's read timeout). A failed call changes nothing
        in the chat; a timed-out one took effect or not, half and half by the seeded random
        (``Call.took_effect`` says which)."""
        self.fault_rate = rate
        self.fault_methods = frozenset(methods)
        self.faults = random.Random(seed)
        self.fault_kinds = kinds

    def slow(self, method: str, seconds: float) -> None:
        """From now on, each call of ``method`` takes ``seconds`` before it is performed and
        answered (0 for no delay)."""
        if seconds > 0:
            self.delays[method] = seconds
        else:
            self.delays.pop(method, None)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for long polling."""
        self._updates.append(update)
        self._new_update.set()

    def waiting_updates(self) -> int:
        """Updates queued for long polling and not yet confirmed by the bot's offset."""
        return len(self._updates)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def chat(self, chat_id: int) -> list[ChatMessage]:
        """Messages in a chat as the person sees them now, oldest first."""
        return [m for (c, _), m in sorted(self.messages.items()) if c == chat_id]

    def last(self, chat_id: int) -> ChatMessage:
        messages = self.chat(chat_id)
        assert messages, f"no message in chat {chat_id}"
        return messages[-1]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts_sent(self, chat_id: int) -> list[str]:
        """Texts of the messages sent to a chat (failed calls left out, timed-out calls that
        took effect included: the person sees them), in the order they were sent."""
        return [
            str(c.params["text"])
            for c in self.calls
            if c.method == "sendMessage" and c.took_effect and int(c.params["chat_id"]) == chat_id
        ]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` holds (for a bot running in another process)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("timed out waiting for the bot")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
