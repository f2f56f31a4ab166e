"""The Bot API stand-in of tests/botapi.py in a process of its own, for the long reliability run
(benchmarks/reliability.py): the bot's memory is then measured without the stand-in's.

    python -m benchmarks.standin_server --token 123:abc      prints {"port": N}, serves until
                                                             its standard input closes

Besides the Bot API it answers a few control requests, under /control:

    GET  /control/events?chats=1,2    what each chat saw since the last such request (drained);
                                      with &wait=S, held up to S seconds until one of them saw
                                      something
    POST /control/faults              {"rate", "methods", "seed", "kinds", "timeout_delay"}:
                                      as inject_faults
    GET  /control/stats               calls per method (ok and failed), messages kept, memory
    GET  /control/chat/{chat}         the messages a chat shows now (newest last)
    POST /control/push                [update, ...]: queued for getUpdates
    POST /control/flood               {"update", "texts", "count"}: that message update queued
                                      count times, cycling through texts (a flood made here,
                                      so the bot's process spends nothing on making it)

``--latency 0.05`` answers every call after 50 ms, as Telegram does; ``--quiet`` keeps no events.

Its memory stays bounded however long the run: only the newest messages of each chat are kept
(older ones can no longer be edited, as after a real chat's history is long), the call log is a
short ring, photos and documents are counted, not kept, and events wait for at most a bounded
number per chat until the run reads them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import threading
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

from tests.botapi import BotApiStandIn, Call, ChatMessage
from tests.processes import rss_mb

KEEP_MESSAGES = 12
"""Messages kept per chat (the newest); an edit of an older one changes nothing."""
KEEP_EVENTS = 2_000
"""Events waiting per chat at most; older ones are counted as lost to the reader."""
TEXT_CHARS = 1_500
"""Characters of a message's text kept in an event (enough to recognise any reply)."""


def chat_of_query(query_id: object) -> int | None:
    """The chat of a callback query whose id the run made as ``<chat>:<n>``."""
    head, _, _ = str(query_id).partition(":")
    try:
        return int(head)
    except ValueError:
        return None


class ServedStandIn(BotApiStandIn):
    """The stand-in with bounded memory and a per-chat record of what each chat saw."""

    def __init__(self, token: str, latency: float = 0.0, quiet: bool = False) -> None:
        super().__init__(token)
        self.latency = latency
        """Seconds every Bot API call takes before it is answered (Telegram's own latency)."""
        self.quiet = quiet
        """Keep no per-chat events (capacity runs read counts, not chats)."""
        self.polls = 0
        self.first_poll_at: float | None = None
        """Wall-clock time of the first getUpdates: a bot that got there has started."""
        self.calls = deque(maxlen=500)  # type: ignore[assignment]
        self.counts: Counter[str] = Counter()
        self.events: dict[int, deque[dict[str, Any]]] = {}
        self.events_dropped = 0
        self._kept: dict[int, deque[tuple[int, int]]] = {}
        self._recorded = asyncio.Event()
        """Set (and replaced) whenever an event is recorded: wakes held /control/events."""
        # Queued updates are numbered far above the ids a run gives the updates it hands the
        # Application directly, so the two never meet in the processed-updates record.
        self._update_ids = itertools.count(1_000_000_000)

    # --- the Bot API, bounded -----------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params = await super()._params(request)
        request["params"] = params
        return params

    def _keep(self, message: ChatMessage) -> None:
        message.photo = None
        message.document = None
        kept = self._kept.setdefault(message.chat_id, deque())
        kept.append((message.chat_id, message.message_id))
        while len(kept) > KEEP_MESSAGES:
            self.messages.pop(kept.popleft(), None)

    async def _sent(self, params: dict[str, Any], result: Any) -> Any:
        key = (int(params["chat_id"]), int(result["message_id"]))
        self._keep(self.messages[key])
        params["_message_id"] = result["message_id"]
        return result

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return await self._sent(params, await super()._m_sendMessage(params))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return await self._sent(params, await super()._m_sendPhoto(params))

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return await self._sent(params, await super()._m_sendDocument(params))

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "getUpdates":
            self.polls += 1
            if self.first_poll_at is None:
                self.first_poll_at = time.time()
        elif self.latency:
            await asyncio.sleep(self.latency)
        response = await super()._handle(request)
        if method == "getUpdates":
            return response
        params: dict[str, Any] = request.get("params") or {}
        if params.get("_fault") == "timeout":
            self.counts[f"{method} failed"] += 1
            return response  # recorded when it timed out (_time_out)
        ok = response.status == 200
        self.counts[f"{method} {'ok' if ok else 'failed'}"] += 1
        chat = self._chat_of(method, params)
        if chat is not None:
            self._record(chat, method, ok, response.status, params)
        return response

    async def _time_out(self, call: Call, took_effect: bool) -> web.Response:
        """As the stand-in's, but what the chat saw is recorded at once, marked as a fault: the
        run reads the chat while the answer is still held."""
        call.params["_fault"] = "timeout"
        call.fault = "timeout"
        call.ok = False
        call.took_effect = took_effect
        result = await self._perform(call.method, call.params) if took_effect else None
        chat = self._chat_of(call.method, call.params)
        if chat is not None:
            self._record(chat, call.method, took_effect, 504, call.params, fault=True)
        await self._hold(self.timeout_delay)
        if took_effect:
            return web.json_response({"ok": True, "result": result})
        return web.json_response(
            {"ok": False, "error_code": 504, "description": "Gateway Timeout"}, status=504
        )

    @staticmethod
    def _chat_of(method: str, params: dict[str, Any]) -> int | None:
        if method == "answerCallbackQuery":
            return chat_of_query(params.get("callback_query_id"))
        try:
            return int(params.get("chat_id") or 0) or None
        except (TypeError, ValueError):
            return None

    def _record(
        self,
        chat: int,
        method: str,
        ok: bool,
        status: int,
        params: dict[str, Any],
        fault: bool = False,
    ) -> None:
        """``ok``: the chat shows what was asked. ``fault``: the bot got no success answer
        although the chat may show it (a timeout Telegram performed)."""
        event: dict[str, Any] = {"m": method, "ok": ok, "at": time.monotonic()}
        if not ok:
            event["status"] = status
        if fault:
            event["fault"] = True
        if method.startswith("send"):
            event["id"] = params.get("_message_id")
        elif "message_id" in params:
            event["id"] = int(params["message_id"])
        text = params.get("text", params.get("caption"))
        if text is not None:
            event["text"] = str(text)[:TEXT_CHARS]
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            event["keyboard"] = markup["inline_keyboard"]
        if self.quiet:
            return
        waiting = self.events.setdefault(chat, deque())
        waiting.append(event)
        self._recorded.set()
        self._recorded = asyncio.Event()
        if len(waiting) > KEEP_EVENTS:
            waiting.popleft()
            self.events_dropped += 1

    # --- control --------------------------------------------------------------------------------

    async def _c_events(self, request: web.Request) -> web.Response:
        chats = [int(c) for c in request.query.get("chats", "").split(",") if c]
        deadline = time.monotonic() + float(request.query.get("wait", 0))
        while not any(self.events.get(c) for c in chats) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recorded.wait(), deadline - time.monotonic())
        drained = {str(c): list(self.events.pop(c, ())) for c in chats}
        return web.json_response(drained)

    async def _c_faults(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.inject_faults(
            float(body.get("rate", 0.0)),
            *body.get("methods", ()),
            seed=int(body.get("seed", 0)),
            kinds=tuple(body.get("kinds", ("5xx",))),
        )
        if "timeout_delay" in body:
            self.timeout_delay = float(body["timeout_delay"])
        return web.json_response({"ok": True})

    async def _c_push(self, request: web.Request) -> web.Response:
        """Queue these updates for long polling, numbered here in the order they are queued (as
        Telegram numbers them), so the bot's offset never passes one it has not seen."""
        for update in await request.json():
            update["update_id"] = self.next_update_id()
            self.push_update(update)
        return web.json_response({"ok": True})

    async def _c_flood(self, request: web.Request) -> web.Response:
        body = await request.json()
        template: dict[str, Any] = body["update"]
        texts: list[str] = body["texts"]
        for i in range(int(body["count"])):
            message = {**template["message"], "text": texts[i % len(texts)]}
            message["message_id"] = int(message["message_id"]) + i
            self.push_update({"update_id": self.next_update_id(), "message": message})
        return web.json_response({"ok": True})

    async def _c_stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "calls": dict(self.counts),
                "messages_kept": len(self.messages),
                "chats": len(self._kept),
                "events_waiting": sum(len(e) for e in self.events.values()),
                "events_dropped": self.events_dropped,
                "rss_mb": round(rss_mb(), 1),
                "polls": self.polls,
                "updates_waiting": self.waiting_updates(),
                "first_poll_at": self.first_poll_at,
            }
        )

    async def _c_chat(self, request: web.Request) -> web.Response:
        chat = int(request.match_info["chat"])
        keys = sorted(self._kept.get(chat, ()))
        return web.json_response(
            [self.message_json(self.messages[k]) for k in keys if k in self.messages]
        )

    async def start(self, port: int = 0) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get("/control/events", self._c_events)
        app.router.add_post("/control/faults", self._c_faults)
        app.router.add_get("/control/stats", self._c_stats)
        app.router.add_get("/control/chat/{chat}", self._c_chat)
        app.router.add_post("/control/push", self._c_push)
        app.router.add_post("/control/flood", self._c_flood)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]


async def serve(token: str, port: int, latency: float = 0.0, quiet: bool = False) -> None:
    api = ServedStandIn(token, latency, quiet)
    await api.start(port)
    print(json.dumps({"port": api.port}), flush=True)
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()

    def watch_stdin() -> None:
        # The run holds the other end: when it exits (even killed), the stand-in stops too.
        with contextlib.suppress(Exception):
            sys.stdin.read()
        loop.call_soon_threadsafe(closed.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    await closed.wait()
    await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.standin_server")
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--quiet", action="store_true", help="keep no per-chat events")
    args = parser.parse_args()
    asyncio.run(serve(args.token, args.port, args.latency, args.quiet))


if __name__ == "__main__":
    main()
