"""Health and metrics over HTTP, for load balancers, orchestrators and Prometheus:

- ``GET /healthz``: the process is alive (its event loop answers);
- ``GET /readyz``: ready for traffic: the database answers, its schema is at the migrations'
  head, the reminder sweep is not lagging beyond a bound, and the text reader has loaded
  (bot/reading.py); 503 with what is wrong otherwise;
- ``GET /metrics``: the Prometheus metrics of this process (bot/metrics.py).

It listens on its own small port (``HEALTH_PORT``) in both polling and webhook mode, on the same
event loop as the bot. Answers hold states and figures only, never anything about a person."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.sweep import lag_seconds
from db.migrate import HEAD
from db.repo import reminders as reminder_repo

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
"""Seconds a readiness check may take before it counts as failed."""


@dataclass
class Readiness:
    ready: bool
    checks: dict[str, Any]


class Health:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        metrics: Metrics,
        *,
        max_sweep_lag: float,
        head: str | None = None,
        reader: Callable[[], str] | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.metrics = metrics
        self.max_sweep_lag = max_sweep_lag
        self.head = head or HEAD  # the newest migration (a test checks it is Alembic's head)
        self.reader = reader
        """The text reader's state (bot/reading.py): ready for traffic once it has loaded."""
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The port it listens on, once started (useful when asked for port 0)."""

    async def readiness(self) -> Readiness:
        checks: dict[str, Any] = {}
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), self.engine.connect() as connection:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
                checks["database"] = "ok"
                checks["migrations"] = "at head" if revision == self.head else "behind"
                oldest = await reminder_repo.oldest_due(connection, self.clock.now())
                lag = lag_seconds(oldest, self.clock.now())
                checks["sweep_lag_seconds"] = round(lag, 1)
                checks["sweep"] = "ok" if lag <= self.max_sweep_lag else "lagging"
        except Exception as exc:  # the database is away, slow, or not migrated at all
            # The class name only: a driver's message may quote connection details.
            checks["database"] = f"unavailable ({type(exc).__name__})"
        if self.reader is not None:
            checks["text_reader"] = self.reader()
        ready = (
            checks.get("database") == "ok"
            and checks.get("migrations") == "at head"
            and checks.get("sweep") == "ok"
            and checks.get("text_reader", "ready") in ("ready", "in process")
        )
        return Readiness(ready, checks)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, request: web.Request) -> web.Response:
        result = await self.readiness()
        body = {"status": "ready" if result.ready else "not ready", **result.checks}
        return web.json_response(body, status=200 if result.ready else 503, dumps=json.dumps)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        log.info("health and metrics on port %s (/healthz, /readyz, /metrics)", self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
