"""The bot killed with SIGKILL in the middle of a check-in: every answer that was acknowledged on
screen is in the database after the restart, and the patient carries on. Whatever old updates
the restarted bot is given again, none is processed twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sqlalchemy import select

from bot.checkin import CheckinState
from db.models import CheckIn
from db.session import create_engine, create_sessionmaker
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN
from tests.harness import Person, button_update, find_button, text_update


async def start_bot(
    api: BotApiStandIn, folder: Path, database: Path | str, **settings: str
) -> asyncio.subprocess.Process:
    """``python -m bot run`` against the stand-in, on a SQLite file or a database URL, with
    these settings besides (``REMINDER_BATCH_SIZE="20"``); its output goes to bot.log."""
    ours = ("TELEGRAM_", "DATABASE_", "REMINDER_")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(ours)},
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "DATABASE_URL": (
            f"sqlite+aiosqlite:///{database}" if isinstance(database, Path) else database
        ),
        **settings,
    }
    log = (folder / "bot.log").open("ab")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=folder, env=env, stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def tap(api: BotApiStandIn, person: Person, label: str) -> str:
    """Push a tap on the newest button with this label; returns the callback query id."""
    message = next(
        m
        for m in reversed(api.chat(person.chat_id))
        if any(b["text"].removeprefix("✅ ") == label for b in m.buttons())
    )
    update = button_update(person, find_button(message, label), api.message_json(message))
    api.push_update(update)
    return str(update["callback_query"]["id"])


def acknowledged(api: BotApiStandIn, query_id: str) -> bool:
    return any(
        c.method == "answerCallbackQuery" and str(c.params.get("callback_query_id")) == query_id
        for c in api.calls
    )


async def stored_answers(db_file: Path) -> dict[str, object]:
    engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
    try:
        async with create_sessionmaker(engine)() as session:
            checkins = (await session.scalars(select(CheckIn))).all()
    finally:
        await engine.dispose()
    assert len(checkins) == 1
    return CheckinState.from_json(checkins[0].state).answers


async def test_acknowledged_answers_survive_sigkill(api: BotApiStandIn, tmp_path: Path) -> None:
    db_file = tmp_path / "crash.db"
    pat = Person(4242, "Pat")

    def shows(text: str) -> bool:
        return any(text in m.text for m in api.chat(pat.chat_id)[-2:])

    first = await start_bot(api, tmp_path, db_file)
    try:
        api.push_update(text_update(pat, "/start"))
        await api.wait_for(lambda: shows("Is it OK for me to store"), timeout=60)
        await tap(api, pat, "Yes, that's OK")
        await api.wait_for(lambda: shows("where do you live"))
        await tap(api, pat, "Berlin")
        for question in ("lowers your defences", "bones be thinner", "ever had cancer"):
            await api.wait_for(lambda q=question: shows(q))  # type: ignore[misc]
            await tap(api, pat, "No")
        await api.wait_for(lambda: shows("reminder each day"))
        api.push_update(text_update(pat, "/checkin"))
        await api.wait_for(lambda: shows("How much does your back hurt"))
        done = await tap(api, pat, "7")
        await api.wait_for(lambda: acknowledged(api, done))
        await tap(api, pat, "Lower back")
        await api.wait_for(lambda: "✅ Lower back" in api.last(pat.chat_id).labels())
        done = await tap(api, pat, "Done ▶")
        await api.wait_for(lambda: acknowledged(api, done))
        # One more tap, and the process is killed at once: it may or may not have landed.
        await tap(api, pat, "Burning")
        first.send_signal(signal.SIGKILL)
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()

    answers = await stored_answers(db_file)
    assert answers["pain"] == 7 and answers["where"] == ["lower"]  # both were acknowledged
    # The process ran as production does, on uvloop's event loop.
    assert "running on the uvloop event loop" in (tmp_path / "bot.log").read_text()

    second = await start_bot(api, tmp_path, db_file)
    try:
        calls_before = len(api.calls_of("sendMessage"))
        api.push_update(text_update(pat, "/checkin"))
        await api.wait_for(lambda: shows("not finished yet"), timeout=60)
        # Nothing was processed twice: one new message, the offer to carry on.
        new = [c.params["text"] for c in api.calls_of("sendMessage")[calls_before:]]
        assert len(new) == 1, new
        await tap(api, pat, "Carry on")
        await api.wait_for(lambda: shows("What does it feel like"))
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), timeout=30)
    answers = await stored_answers(db_file)
    assert answers["pain"] == 7 and answers["where"] == ["lower"]
