"""Two sweepers in two processes on one PostgreSQL: every due reminder is sent exactly once."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import ReminderDelivery, ReminderRule
from db.session import create_engine, create_sessionmaker
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN
from tests.harness import add_due_reminders

ROOT = Path(__file__).parents[1]
PEOPLE = 1200


@pytest.mark.postgres
async def test_two_sweepers_send_every_reminder_exactly_once(
    postgres_database: str, api: BotApiStandIn
) -> None:
    from tests.conftest import _truncate

    await _truncate(postgres_database)
    now = datetime.now(UTC)
    engine = create_engine(postgres_database)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await add_due_reminders(session, range(1, PEOPLE + 1), now - timedelta(minutes=5), now)

        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": api.base_url,
            "DATABASE_URL": postgres_database,
            "TELEGRAM_MAX_MESSAGES_PER_SECOND": "0",
            "REMINDER_BATCH_SIZE": "40",
        }
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
            for _ in range(2)
        ]
        for process in processes:  # both are up before either starts sweeping
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            assert line.strip() == b"ready"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        outputs = await asyncio.wait_for(
            asyncio.gather(*(p.communicate() for p in processes)), timeout=300
        )
        assert [p.returncode for p in processes] == [0, 0]
        shares = [int(out.decode().split()[-1]) for out, _ in outputs]
        assert sum(shares) == PEOPLE
        assert all(share > 0 for share in shares), shares  # both instances did part of it

        sent = [c for c in api.calls_of("sendMessage") if c.ok]
        chats = [int(c.params["chat_id"]) for c in sent]
        assert len(chats) == PEOPLE
        assert set(chats) == {10_000 + i for i in range(1, PEOPLE + 1)}
        async with create_sessionmaker(engine)() as session:
            statuses = dict(
                (
                    await session.execute(
                        select(ReminderDelivery.status, func.count()).group_by(
                            ReminderDelivery.status
                        )
                    )
                ).all()
            )
            leftover = await session.scalar(select(func.count()).where(ReminderRule.fire_at <= now))
        assert statuses == {"sent": PEOPLE}
        assert leftover == 0
    finally:
        await engine.dispose()
