"""Bot API calls over aiohttp: a drop-in for python-telegram-bot's default httpx transport.

Every message, edit and button answer the bot sends is one HTTP call, so the transport's cost is
paid on every update. PTB's ``HTTPXRequest`` spends several times more CPU per call than aiohttp
does (httpx builds its request and response models in pure Python, on top of httpcore's pool),
and that cost grows with the number of calls in flight. ``AiohttpRequest`` keeps PTB's behaviour:
the same timeouts and defaults, the same exceptions (``TimedOut``, ``NetworkError``; HTTP status
codes are turned into ``BadRequest``, ``Forbidden``, ``RetryAfter`` … by PTB's ``BaseRequest``),
the same bytes on the wire for uploads. Other calls send their parameters as JSON, which the Bot
API documents for every method, rather than as a url-encoded form. Measured in
``benchmarks/transport.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
import os
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from aiohttp.abc import AbstractStreamWriter
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict, ODVInput, UploadFileDict
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

from bot.intake import is_update_array

log = logging.getLogger(__name__)

POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)
"""PTB's own message for a pool timeout, word for word."""

_JSON = "application/json"
_WRITE_CHUNK = 2**16
"""aiohttp buffers this much without waiting for the socket: a smaller body cannot stall on
writing, a larger one is sent in chunks of this size, each within the write timeout."""

# Multipart names and file names are escaped as browsers (and httpx) do.
_HTML5_ESCAPES = {ord('"'): "%22", ord("\\"): "\\\\"} | {
    c: f"%{c:02X}" for c in range(0x20) if c != 0x1B
}


class AiohttpRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` on one :class:`aiohttp.ClientSession`.

    The arguments and defaults are those of :class:`telegram.request.HTTPXRequest`: at most
    ``connection_pool_size`` calls in flight, each waiting at most ``pool_timeout`` for its turn
    (then :class:`~telegram.error.TimedOut` with PTB's pool message, the call not sent);
    ``connect_timeout`` for opening a connection, ``read_timeout`` between received chunks once
    the request is sent, ``write_timeout`` (``media_write_timeout`` for uploads) for each chunk
    of a request body sent. ``None`` means no limit.

    ``proxy`` is an ``http://`` proxy URL. Unlike httpx, proxy variables in the environment are
    read only with ``trust_env=True`` (aiohttp then looks them up on every call, which costs).
    HTTP/2 and socket options are not offered.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_slots",
        "_ssl",
        "_timeouts",
        "_trust_env",
        "_write_timeout",
        "on_error",
        "updates_filter",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
        trust_env: bool = False,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._trust_env = trust_env
        # The same certificate authorities as httpx, whatever the machine's own store holds.
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}
        self.on_error = on_error
        """Told the kind of every failed call (error_kind): the Bot API error metric."""
        self.updates_filter: Callable[[list[Any]], list[Any]] | None = None
        """Given getUpdates' array of raw updates before python-telegram-bot parses it; what
        it returns is parsed (bot/intake.py drops a flood there)."""

    @property
    def read_timeout(self) -> float | None:
        """See :attr:`BaseRequest.read_timeout`: the default read timeout in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """See :meth:`BaseRequest.initialize`. Again after :meth:`shutdown`, a new session."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=self._ssl)
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Telegram sets no cookies; a real jar would be consulted on every call.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=self._trust_env,
        )
        self._slots = asyncio.Semaphore(self._pool_size)

    async def shutdown(self) -> None:
        """See :meth:`BaseRequest.shutdown`: closes the session and its connections."""
        if self._session is None or self._session.closed:
            log.debug("This AiohttpRequest is already shut down. Returning.")
            return
        await self._session.close()

    # PTB declares it static but calls it on the instance (BaseRequest.post), so an instance
    # method may take its place.
    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        """See :meth:`BaseRequest.parse_json_payload`. Invalid JSON is reported without the
        payload (it may hold what a person typed); an array of updates passes through
        :attr:`updates_filter`."""
        try:
            data: JSONDict = json.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            log.error("the Bot API answered with invalid JSON (%d bytes)", len(payload))
            raise TelegramError("Invalid server response") from exc
        if self.updates_filter is not None and isinstance(data, dict):
            result = data.get("result")
            if is_update_array(result):
                data["result"] = self.updates_filter(result)
        return data

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See :meth:`BaseRequest.do_request`; each failed call is counted by its kind."""
        try:
            status, payload = await self._send(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        except TelegramError as exc:
            if self.on_error is not None:
                self.on_error(error_kind(exc))
            raise
        if status >= 300 and self.on_error is not None:
            self.on_error(status_kind(status))
        return status, payload

    async def _send(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call over the session (PTB maps the status to its errors)."""
        session, slots = self._session, self._slots
        if session is None or slots is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        files = request_data.contains_files if request_data is not None else False
        # Timeouts not given for this call (DEFAULT_NONE) are this instance's.
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout

        headers = {"User-Agent": self.USER_AGENT}
        body: bytes | _TimedBody | None = None
        if request_data is not None:
            if files:
                raw, content_type = _multipart(
                    request_data.json_parameters, request_data.multipart_data
                )
            elif parameters := request_data.parameters:
                # A JSON body, which the Bot API takes for every call but uploads: encoding it
                # costs a tenth of url-encoding the same parameters as a form (as httpx does).
                raw, content_type = json.dumps(parameters).encode(), _JSON
            else:
                raw, content_type = b"", ""
            if content_type:
                headers["Content-Type"] = content_type
                if len(raw) > _WRITE_CHUNK:
                    body = _TimedBody(raw, content_type, write_timeout)
                else:
                    body = raw

        key = (connect_timeout, read_timeout)
        timeout = self._timeouts.get(key)
        if timeout is None:
            # connect: name resolution, TCP and TLS of a new connection (never a wait for a free
            # one: the semaphore below admits no more calls than the connector has connections).
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=connect_timeout,
                sock_connect=connect_timeout,
                sock_read=read_timeout,
            )
            if len(self._timeouts) >= 32:  # callers passing ever new timeouts: stay small
                self._timeouts.clear()
            self._timeouts[key] = timeout

        if slots.locked():
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except TimeoutError as exc:
                raise TimedOut(POOL_TIMEOUT_MESSAGE) from exc
        else:
            await slots.acquire()  # returns at once
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            # aiohttp's ServerTimeoutError, ConnectionTimeoutError and SocketTimeoutError are
            # TimeoutErrors, and so is a chunk of an upload not sent in time.
            raise TimedOut from exc
        except (aiohttp.ClientError, OSError) as exc:
            kind = f"{type(exc).__module__.partition('.')[0]}.{type(exc).__name__}"
            raise NetworkError(f"{kind}: {_without_path(str(exc), url)}") from exc
        finally:
            slots.release()


class _TimedBody(aiohttp.Payload):
    """A large request body, sent chunk by chunk, each chunk within the write timeout (aiohttp
    itself has no write timeout)."""

    _value: bytes

    def __init__(self, value: bytes, content_type: str, write_timeout: float | None) -> None:
        super().__init__(value, content_type=content_type)
        self._size = len(value)
        self._autoclose = True
        self._write_timeout = write_timeout

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._value.decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        view = memoryview(self._value)
        for start in range(0, len(view), _WRITE_CHUNK):
            async with asyncio.timeout(self._write_timeout):
                await writer.write(view[start : start + _WRITE_CHUNK])


def status_kind(status: int) -> str:
    """An HTTP error status as a metric label, as PTB maps it to its errors."""
    if status == 429:
        return "retry_after"
    if status == 400:
        return "bad_request"
    if status == 403:
        return "forbidden"
    if status >= 500:
        return "server"
    return "other"


def error_kind(exc: TelegramError) -> str:
    """A Bot API failure as a metric label (never its message, which may quote a chat)."""
    if isinstance(exc, RetryAfter):
        return "retry_after"
    if isinstance(exc, TimedOut):
        return "timeout"
    if isinstance(exc, BadRequest):
        return "bad_request"
    if isinstance(exc, Forbidden):
        return "forbidden"
    if isinstance(exc, NetworkError):
        return "network"
    return "other"


def _multipart(fields: dict[str, str], files: UploadFileDict) -> tuple[bytes, str]:
    """``multipart/form-data`` as httpx encodes it: the parameters first, then the files."""
    boundary = os.urandom(16).hex()
    delimiter = f"--{boundary}\r\n".encode("ascii")
    parts: list[bytes] = []
    for name, value in fields.items():
        parts += [
            delimiter,
            f'Content-Disposition: form-data; name="{_escape(name)}"\r\n\r\n'.encode(),
            value.encode(),
            b"\r\n",
        ]
    for name, (filename, content, mimetype) in files.items():
        disposition = f'Content-Disposition: form-data; name="{_escape(name)}"'
        if filename:
            disposition += f'; filename="{_escape(filename)}"'
        content_type = mimetype or _guess_type(filename)
        if content_type:
            disposition += f"\r\nContent-Type: {content_type}"
        parts += [delimiter, f"{disposition}\r\n\r\n".encode(), _read(content), b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _escape(value: str) -> str:
    return value.translate(_HTML5_ESCAPES)


def _guess_type(filename: str | None) -> str | None:
    if not filename:
        return None
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _read(content: Any) -> bytes:
    """The bytes of an upload: bytes as they are, a file handle read from its start."""
    if isinstance(content, bytes | bytearray | memoryview):
        return bytes(content)
    if hasattr(content, "seek"):
        with contextlib.suppress(OSError):  # io.UnsupportedOperation: a pipe, a socket
            content.seek(0)
    data = content.read()
    return data.encode() if isinstance(data, str) else bytes(data)


def _without_path(message: str, url: str) -> str:
    """The message with the URL's path (which holds the bot token) left out."""
    parts = urlsplit(url)
    return message.replace(url, f"{parts.scheme}://{parts.netloc}/…")
