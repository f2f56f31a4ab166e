"""The aiohttp transport (bot/transport.py) through the real stack: the whole bot over it against
the Bot API stand-in over HTTP, and PTB's own errors for a slow answer, a refused connection, a
full pool, an upload the server does not take in, and the Bot API's error answers."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.transport import POOL_TIMEOUT_MESSAGE, AiohttpRequest
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN
from tests.harness import Harness, Person, text_update
from tests.test_checkin_flow import DONE, onboard
from tests.test_history import png_size

CHAT = 1001


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """The transport does not depend on the database: SQLite only."""
    path = tmp_path / "bot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def bot_over(base_url: str, request: AiohttpRequest) -> Bot:
    return Bot(TOKEN, base_url=base_url, request=request, get_updates_request=AiohttpRequest())


@pytest.fixture
def held(api: BotApiStandIn) -> Iterator[Any]:
    """``held(method)`` makes the stand-in keep every answer to ``method`` until the returned
    event is set (each is set at the end of the test)."""
    events: list[asyncio.Event] = []

    def hold(method: str) -> asyncio.Event:
        release = asyncio.Event()
        answer = getattr(api, f"_m_{method}")

        async def late(params: dict[str, Any]) -> Any:
            await release.wait()
            return await answer(params)

        setattr(api, f"_m_{method}", late)
        events.append(release)
        return release

    yield hold
    for event in events:
        event.set()


async def test_the_whole_bot_works_over_aiohttp(bot: Harness, pat: Person) -> None:
    # The Application's own transport, as build_application wires it.
    assert isinstance(bot.app.bot.request, AiohttpRequest)
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Lower back", DONE, "Burning", DONE, "None of these")
    await bot.press(pat, "None of these")
    assert "your check-in is saved" in bot.screen(pat).text
    # Taps were answered and the question edited in place, buttons and all (JSON bodies).
    assert bot.api.calls_of("answerCallbackQuery") and bot.api.calls_of("editMessageText")
    edits = bot.api.calls_of("editMessageText")
    keyboards = [
        c.params["reply_markup"]["inline_keyboard"] for c in edits if "reply_markup" in c.params
    ]
    assert DONE in {button["text"] for rows in keyboards for row in rows for button in row}

    # The history chart: a PNG upload (multipart).
    await bot.send(pat, "/history")
    [upload] = bot.api.calls_of("sendPhoto")
    assert int(upload.params["chat_id"]) == pat.chat_id
    assert png_size(upload.params["photo"]) == (800, 600)

    # The export: a CSV document upload with its caption.
    await bot.send(pat, "/export")
    await bot.press(pat, "📄 Spreadsheet (CSV)", "Last 30 days")
    export = bot.screen(pat)
    assert export.document is not None and "Your finished check-ins (1)" in export.text
    [row] = list(csv.DictReader(io.StringIO(export.document.decode("utf-8-sig"))))
    assert row["Pain (0-10)"] == "5" and row["Feels like"] == "Burning"


async def test_long_polling_over_aiohttp(bot: Harness, pat: Person) -> None:
    app, api = bot.app, bot.api
    assert app.updater is not None
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        api.push_update(text_update(pat, "/start"))
        await api.wait_for(lambda: any("Is it OK" in m.text for m in api.chat(pat.chat_id)))
    finally:
        await app.updater.stop()
        await app.stop()


async def test_an_answer_slower_than_the_read_timeout_is_timed_out(
    api: BotApiStandIn, held: Any
) -> None:
    release = held("sendMessage")
    async with bot_over(api.base_url, AiohttpRequest(read_timeout=0.2)) as bot:
        with pytest.raises(TimedOut) as caught:
            await bot.send_message(CHAT, "hello")
        assert caught.value.message == "Timed out"
        # A timeout given for one call wins over the default.
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "hello", read_timeout=0.1)
        release.set()
        # A new connection replaces the one given up on.
        await bot.send_message(CHAT, "after", read_timeout=5)
    assert "after" in api.texts_sent(CHAT)


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    bot = bot_over(f"http://127.0.0.1:{port}/bot", AiohttpRequest())
    with pytest.raises(NetworkError) as caught:
        async with bot:  # its get_me
            pass
    error = caught.value
    assert not isinstance(error, TimedOut)
    assert isinstance(error.__cause__, aiohttp.ClientConnectorError)
    assert error.message.startswith("aiohttp.ClientConnectorError")
    assert TOKEN not in error.message


async def test_a_full_pool_times_out_without_sending(api: BotApiStandIn, held: Any) -> None:
    release = held("sendMessage")
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.2)
    async with bot_over(api.base_url, request) as bot:
        first = asyncio.create_task(bot.send_message(CHAT, "first", read_timeout=None))
        await api.wait_for(lambda: len(api.calls_of("sendMessage")) == 1)
        with pytest.raises(TimedOut) as caught:
            await bot.send_message(CHAT, "second")
        assert caught.value.message == POOL_TIMEOUT_MESSAGE
        assert len(api.calls_of("sendMessage")) == 1  # the second was never sent
        release.set()
        await first
        await bot.send_message(CHAT, "third")  # the connection is free again
    assert api.texts_sent(CHAT) == ["first", "third"]


@pytest.fixture
def deaf_server() -> Iterator[int]:
    """A port whose connections are never accepted nor read: an upload fills the buffers and
    stalls."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


async def test_an_upload_the_server_does_not_take_in_is_timed_out(deaf_server: int) -> None:
    request = AiohttpRequest()
    bot = bot_over(f"http://127.0.0.1:{deaf_server}/bot", request)
    async with request:  # the bot is not initialised: that would ask the deaf server get_me
        with pytest.raises(TimedOut) as caught:
            await bot.send_document(
                CHAT, document=bytes(16 * 2**20), filename="big.bin", write_timeout=0.3
            )
    assert caught.value.message == "Timed out"


async def test_bot_api_errors_are_ptb_errors(api: BotApiStandIn) -> None:
    api.fail("sendMessage", 400, "Bad Request: message text is empty")
    api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    api.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    api.fail("sendMessage", 502, "Bad Gateway")
    async with bot_over(api.base_url, AiohttpRequest()) as bot:
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(CHAT, "one")
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(CHAT, "two")
        with pytest.raises(RetryAfter, match="Retry in 7"):
            await bot.send_message(CHAT, "three")
        with pytest.raises(NetworkError, match="Bad Gateway") as caught:
            await bot.send_message(CHAT, "four")
        assert not isinstance(caught.value, TimedOut)
        await bot.send_message(CHAT, "five")
    assert api.texts_sent(CHAT) == ["five"]


async def test_shutdown_closes_the_session_and_initialize_opens_a_new_one(
    api: BotApiStandIn,
) -> None:
    request = AiohttpRequest()
    bot = bot_over(api.base_url, request)
    async with bot:
        await bot.send_message(CHAT, "one")
    # Its keep-alive connections are closed: the stand-in sees none left.
    assert api._runner is not None and api._runner.server is not None
    server = api._runner.server
    await api.wait_for(lambda: not server.connections, timeout=5)
    with pytest.raises(NetworkError, match="not initialized"):
        await bot.send_message(CHAT, "lost")
    await request.shutdown()  # a second shutdown does nothing
    async with bot:
        await bot.send_message(CHAT, "two")
    assert api.texts_sent(CHAT) == ["one", "two"]
