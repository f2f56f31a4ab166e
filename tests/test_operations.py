"""Operations (docs/deploy.md): the webhook and its secret, two instances on one PostgreSQL
sharing the periodic jobs, /healthz, /readyz and /metrics, and a graceful stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.config import Settings
from bot.health import Health
from db.models import ReminderDelivery
from handlers.app import BotApp, build_application
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN, _truncate
from tests.harness import Harness, ManualClock, Person, add_due_reminders, text_update
from tests.test_caregivers import emergency, link
from tests.test_checkin_flow import onboard

ROOT = Path(__file__).parents[1]
PUBLIC_URL = "https://bot.example.org/telegram"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The metrics page parsed: value by (sample name, labels)."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def label_values(exposition: str) -> set[str]:
    """Every label value on the metrics page (where a person's id must never be)."""
    return {value for (_, labels) in samples(exposition) for _, value in labels}


# --- the webhook, as `python -m bot run` serves it -------------------------------------------


async def start_webhook_bot(
    api: BotApiStandIn, folder: Path, database_url: str, **more: str
) -> tuple[asyncio.subprocess.Process, int, int]:
    """``python -m bot run`` in webhook mode; returns the process, its webhook port and its
    health port, once /healthz answers."""
    webhook_port, health_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "DATABASE_URL": database_url,
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(webhook_port),
        "HEALTH_PORT": str(health_port),
        **more,
    }
    log = (folder / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=folder, env=env, stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    for _ in range(300):
        await asyncio.sleep(0.1)
        if process.returncode is not None:
            raise AssertionError((folder / "bot.log").read_text())
        try:
            if api.webhook and (await get(f"http://127.0.0.1:{health_port}/healthz"))[0] == 200:
                return process, webhook_port, health_port
        except aiohttp.ClientError:
            continue
    raise AssertionError("the bot did not start: " + (folder / "bot.log").read_text())


async def stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


async def test_the_webhook_refuses_requests_without_its_secret_and_serves_health(
    api: BotApiStandIn, tmp_path: Path
) -> None:
    db_file = tmp_path / "bot.db"
    process, port, health = await start_webhook_bot(api, tmp_path, f"sqlite+aiosqlite:///{db_file}")
    try:
        # Registered with Telegram: the public URL, a secret, every kind of update.
        assert api.webhook is not None and api.webhook["url"] == PUBLIC_URL
        secret = str(api.webhook["secret_token"])
        assert len(secret) >= 32 and TOKEN.split(":")[1] not in secret
        address = f"http://127.0.0.1:{port}/telegram"
        pat = Person(4242, "Pat")

        # Without the secret, or with a wrong one: 403, and nothing happens.
        assert await api.deliver(address, text_update(pat, "/start"), bare=True) == 403
        assert await api.deliver(address, text_update(pat, "/start"), secret="guess") == 403
        await asyncio.sleep(0.5)
        assert api.chat(pat.chat_id) == []

        # With it, as Telegram sends it: handled like a polled update.
        assert await api.deliver(address, text_update(pat, "/start")) == 200
        await api.wait_for(lambda: bool(api.chat(pat.chat_id)), timeout=20)
        assert "Is it OK for me to store" in api.chat(pat.chat_id)[-1].text

        # Ready once the text reader has loaded in its worker (a few seconds after start).
        for _ in range(600):
            status, body = await get(f"http://127.0.0.1:{health}/readyz")
            if status == 200 or '"text_reader": "loading"' not in body:
                break
            await asyncio.sleep(0.1)
        assert status == 200, body
        assert '"migrations": "at head"' in body and '"database": "ok"' in body
        assert '"text_reader": "ready"' in body
        status, page = await get(f"http://127.0.0.1:{health}/metrics")
        assert status == 200
        handled = samples(page)
        assert handled[("msbot_updates_handled_total", (("kind", "command"),))] == 1.0
        assert not any(str(pat.user_id) in v for v in label_values(page))  # no label: a person
    finally:
        assert await stop(process) == 0
    log = (tmp_path / "bot.log").read_text()
    assert "starting with a webhook" in log and "Traceback" not in log
    assert TOKEN not in log and secret not in log


async def test_sigterm_lets_the_update_in_hand_finish(api: BotApiStandIn, tmp_path: Path) -> None:
    db_file = tmp_path / "bot.db"
    process, port, _ = await start_webhook_bot(api, tmp_path, f"sqlite+aiosqlite:///{db_file}")
    pat = Person(5151, "Pat")
    api.slow("sendMessage", 2.0)  # the reply is on its way when the stop comes
    assert await api.deliver(f"http://127.0.0.1:{port}/telegram", text_update(pat, "/start")) == 200
    await api.wait_for(lambda: bool(api.calls_of("sendMessage")), timeout=20)
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0
    # The update was finished, not cut off: its reply went out and its work was committed.
    assert "Is it OK for me to store" in api.chat(pat.chat_id)[-1].text
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (1,)
    assert "stopped" in (tmp_path / "bot.log").read_text()


# --- two instances on one PostgreSQL ---------------------------------------------------------


@pytest.fixture
async def two_instances(
    postgres_database: str, api: BotApiStandIn, clock: ManualClock
) -> AsyncIterator[tuple[Harness, Harness, list[int]]]:
    """Two Applications on one PostgreSQL, each serving its own webhook port, started."""
    await _truncate(postgres_database)
    apps: list[BotApp] = []
    ports: list[int] = []
    for _ in range(2):
        settings = Settings(
            telegram_bot_token=TOKEN,
            telegram_base_url=api.base_url,
            telegram_base_file_url=api.base_file_url,
            database_url=postgres_database,
            flood_max_updates=0,
            reminder_batch_size=20,
        )
        app = build_application(settings, clock=clock)
        await app.initialize()
        port = free_port()
        assert app.updater is not None
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=PUBLIC_URL,
            secret_token=settings.webhook_secret(),
        )
        await app.start()
        apps.append(app)
        ports.append(port)
    try:
        yield Harness(api, apps[0], clock), Harness(api, apps[1], clock), ports
    finally:
        for app in apps:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await app.bot_data["services"].db_engine.dispose()


async def run_job(app: BotApp, name: str) -> None:
    assert app.job_queue is not None
    [job] = app.job_queue.get_jobs_by_name(name)
    await job.run(app)


@pytest.mark.postgres
async def test_two_webhook_instances_send_a_due_batch_and_a_digest_once(
    two_instances: tuple[Harness, Harness, list[int]], api: BotApiStandIn
) -> None:
    one, two, ports = two_instances
    pat, sam = Person(1001, "Pat"), Person(2002, "Sam")
    await onboard(one, pat)
    await link(one, pat, sam)
    await one.send(pat, "/caregivers")
    await one.press(pat, "⏰ Missed check-in alert: off")  # after 2 days without a check-in

    # Both instances take updates from Telegram at the same URL.
    for port in ports:
        assert await api.deliver(f"http://127.0.0.1:{port}/telegram", text_update(sam, "/help"))
    await api.wait_for(
        lambda: len([t for t in api.texts_sent(sam.chat_id) if "/privacy" in t]) >= 2
    )

    now = one.clock.now() + timedelta(days=3)
    one.clock.set(now)
    async with one.services.sessions.begin() as session:
        await add_due_reminders(session, range(5001, 5061), now - timedelta(minutes=1), now)

    # Both instances run their sweep and their digest job at the same moment, three times over.
    for _ in range(3):
        await asyncio.gather(
            *(
                run_job(h.app, n)
                for h in (one, two)
                for n in ("reminder-sweep", "caregiver-digests")
            )
        )
    missed = [t for t in api.texts_sent(sam.chat_id) if "has not done a check-in" in t]
    assert len(missed) == 1
    chats = [c.params["chat_id"] for c in api.calls_of("sendMessage")]
    assert all(chats.count(10_000 + i) == 1 for i in range(5001, 5061))
    async with one.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ReminderDelivery)) == 60


# --- readiness and metrics, in process ------------------------------------------------------


@pytest.mark.postgres
async def test_readyz_fails_while_the_database_is_away_and_recovers(
    postgres_database: str, clock: ManualClock
) -> None:
    from bot.metrics import Metrics
    from db.session import create_engine

    await _truncate(postgres_database)
    name = postgres_database.rsplit("/", 1)[1]
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
    engine = create_engine(postgres_database)
    health = Health(engine, clock, Metrics(), max_sweep_lag=600)
    await health.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{health.port}/readyz"
    try:
        assert (await get(url))[0] == 200
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        status, body = await get(url)
        assert status == 503 and "unavailable" in body, body
        assert (await get(f"http://127.0.0.1:{health.port}/healthz"))[0] == 200  # alive
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        for _ in range(20):
            status, body = await get(url)
            if status == 200:
                break
            await asyncio.sleep(0.2)
        assert status == 200, body
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await admin.close()
        await health.stop()
        await engine.dispose()


async def test_readyz_says_when_migrations_are_behind_or_reminders_lag(bot: Harness) -> None:
    services = bot.services
    behind = Health(services.db_engine, bot.clock, services.metrics, max_sweep_lag=600, head="0")
    assert (await behind.readiness()).checks["migrations"] == "behind"
    health = Health(services.db_engine, bot.clock, services.metrics, max_sweep_lag=600)
    assert (await health.readiness()).ready
    now = bot.clock.now()
    async with services.sessions.begin() as session:
        await add_due_reminders(session, range(1, 3), now - timedelta(minutes=30), now)
    result = await health.readiness()
    assert not result.ready and result.checks["sweep"] == "lagging"
    assert result.checks["sweep_lag_seconds"] == 1800.0
    await run_job(bot.app, "reminder-sweep")  # the sweep catches up
    assert (await health.readiness()).ready


async def test_the_metrics_count_check_ins_escalations_and_bot_api_errors(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these")
    assert "your check-in is saved" in bot.screen(pat).text
    await emergency(bot, pat)  # a second check-in, closed by emergency advice
    bot.api.fail("sendMessage", 400, "Bad Request: chat not found")
    await bot.send(pat, "/help")
    health = Health(bot.services.db_engine, bot.clock, bot.services.metrics, max_sweep_lag=600)
    await health.start("127.0.0.1", 0)
    try:
        status, page = await get(f"http://127.0.0.1:{health.port}/metrics")
    finally:
        await health.stop()
    assert status == 200
    found = samples(page)
    assert found[("msbot_checkins_started_total", ())] == 2.0
    assert found[("msbot_checkins_completed_total", ())] == 2.0
    assert found[("msbot_escalations_total", (("tier", "emergency"),))] == 1.0
    assert found[("msbot_bot_api_errors_total", (("kind", "bad_request"),))] == 1.0
    handled = found[("msbot_updates_handled_total", (("kind", "callback_query"),))]
    assert handled == len([c for c in bot.api.calls if c.method == "answerCallbackQuery"])
    assert found[("msbot_update_seconds_count", ())] == sum(
        v for (name, _), v in found.items() if name == "msbot_updates_handled_total"
    )
    assert not any(str(pat.user_id) in v for v in label_values(page))
