"""The bot as an operator runs it (``python -m bot run``), talking HTTP to the Bot API stand-in.

Long polling, migrations on start, the profile questions, urgent advice by button, a warning sign
typed in words (read by the free-text reader in the real process), a clean stop on SIGTERM, and logs
that hold neither the token nor anything the patient said."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import CheckIn, Escalation
from db.session import create_engine, create_sessionmaker
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN
from tests.harness import Person, button_update, find_button, text_update

ROOT = Path(__file__).parents[1]
NOTE = "Sore after gardening, otherwise fine"
TYPED = "forgot to say, I wet myself this morning and never have before"


@pytest.fixture
async def running_bot(
    api: BotApiStandIn, tmp_path: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    db_file = tmp_path / "e2e.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "LOG_LEVEL": "DEBUG",
    }
    log_file = (tmp_path / "bot.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=log_file,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield process, db_file
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log_file.close()


async def press(api: BotApiStandIn, person: Person, label: str) -> None:
    message = next(
        m
        for m in reversed(api.chat(person.chat_id))
        if any(b["text"].removeprefix("✅ ") == label for b in m.buttons())
    )
    update = button_update(person, find_button(message, label), api.message_json(message))
    api.push_update(update)


async def test_bot_runs_with_long_polling_against_a_bot_api_over_http(
    api: BotApiStandIn, running_bot: tuple[asyncio.subprocess.Process, Path]
) -> None:
    process, db_file = running_bot
    pat = Person(777, "Pat")

    def last_text() -> str:
        messages = api.chat(pat.chat_id)
        return messages[-1].text if messages else ""

    async def step(expect: str) -> None:
        await api.wait_for(lambda: expect in last_text(), timeout=30)

    # The command menu is set when the bot starts.
    await api.wait_for(lambda: bool(api.calls_of("setMyCommands")), timeout=30)

    api.push_update(text_update(pat, "/start"))
    await step("Is it OK for me to store")
    await press(api, pat, "Yes, that's OK")
    await step("where do you live")
    await press(api, pat, "Berlin")
    for question in ("lowers your defences", "bones be thinner", "ever had cancer"):
        await step(question)
        await press(api, pat, "No")
    await step("reminder each day")
    await press(api, pat, "Not now")
    await step("no reminders")

    api.push_update(text_update(pat, "/checkin"))
    await step("How much does your back hurt")
    await press(api, pat, "6")
    await step("Where is the pain")
    for label in ("Lower back", "Done ▶"):  # two quick taps: handled in order
        await press(api, pat, label)
    await step("What does it feel like")
    await press(api, pat, "Electric or shooting")
    await api.wait_for(lambda: "✅ Electric or shooting" in api.last(pat.chat_id).labels())
    await press(api, pat, "Done ▶")
    await step("Anything else going on")
    await press(api, pat, "None of these")
    await step("NEW since your last check-in")
    await press(api, pat, "Fever, or hot and shivery")
    await api.wait_for(lambda: "✅ Fever, or hot and shivery" in api.last(pat.chat_id).labels())
    await press(api, pat, "Done ▶")
    await step("your check-in is saved")
    texts = api.texts_sent(pat.chat_id)
    [urgent] = [t for t in texts if t.startswith("<b>⚠️")]
    assert texts.index(urgent) < len(texts) - 1  # the advice came before the summary
    assert "follow the advice above" in texts[-1] and "💡" not in texts[-1]
    await press(api, pat, "📝 Add a note")
    await step("Type your note")
    api.push_update(text_update(pat, NOTE))
    await step("note is saved")
    api.push_update(text_update(pat, TYPED))
    await api.wait_for(lambda: any(t.startswith("<b>🚨") for t in api.texts_sent(pat.chat_id)))

    red = next(t for t in api.texts_sent(pat.chat_id) if t.startswith("<b>🚨"))
    assert "call 112" in red and "urine or stool" in red
    assert "call your doctor's out-of-hours service" in urgent  # Germany: no NHS 111

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    logs = (db_file.parent / "bot.log").read_text()
    assert "starting with long polling" in logs
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    assert NOTE not in logs and "gardening" not in logs
    assert TYPED not in logs and "wet myself" not in logs

    engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
    try:
        async with create_sessionmaker(engine)() as session:
            rows = (
                await session.execute(
                    select(Escalation.tier, Escalation.rule_ids, Escalation.sent_at).order_by(
                        Escalation.id
                    )
                )
            ).all()
            [checkin] = (await session.scalars(select(CheckIn))).all()
    finally:
        await engine.dispose()
    assert [(tier, rules) for tier, rules, _ in rows] == [
        ("urgent", "urgent.fever"),
        ("emergency", "emergency.cauda_equina urgent.fever"),  # it lists what still holds
    ]
    assert all(sent_at is not None for _, _, sent_at in rows)
    assert checkin.note == f"{NOTE}\n{TYPED}"


async def test_running_bot_sends_a_due_reminder_from_its_sweep_job(
    api: BotApiStandIn, tmp_path: Path
) -> None:
    """The JobQueue drives the sweep in the real process: a reminder due a minute ago arrives."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from db.migrate import upgrade
    from db.models import ReminderRule, User

    url = f"sqlite+aiosqlite:///{tmp_path / 'sweep.db'}"
    await asyncio.to_thread(upgrade, url)
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await session.execute(
                insert(User).values(
                    id=1, telegram_id=555, chat_id=555, language="en", timezone="UTC",
                    created_at=now, consent_at=now,
                )
            )  # fmt: skip
            await session.execute(
                insert(ReminderRule).values(
                    user_id=1, times=["09:00"], weekdays=127, timezone="UTC", active=True,
                    next_due_at=now - timedelta(minutes=1), fire_at=now - timedelta(minutes=1),
                    nudge_minutes=180, updated_at=now,
                )
            )  # fmt: skip
    finally:
        await engine.dispose()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "DATABASE_URL": url,
        "REMINDER_SWEEP_SECONDS": "0.5",
    }
    with (tmp_path / "bot.log").open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await api.wait_for(
                lambda: any("Time for your back check-in" in t for t in api.texts_sent(555)),
                timeout=30,
            )
            labels = api.last(555).labels()
            assert labels[0] == "Start now" and "Skip today" in labels
        finally:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    assert len([t for t in api.texts_sent(555) if "Time for" in t]) == 1
