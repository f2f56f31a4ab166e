"""Drive the real python-telegram-bot Application the way a person would: send text, tap the
button with a given label. Bot API calls go over HTTP to the stand-in in ``tests/botapi.py``."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Update

from bot.services import Services
from handlers.app import BotApp
from tests.botapi import BotApiStandIn, ChatMessage


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> None:
        self._now += timedelta(**kwargs)

    def set(self, when: datetime) -> None:
        self._now = when


START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    user_id: int
    first_name: str = "Pat"
    language: str = "en"

    @property
    def chat_id(self) -> int:
        return self.user_id

    def user_json(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language,
        }


_message_ids = itertools.count(1)
_update_ids = itertools.count(1)
_query_ids = itertools.count(1)


def text_update(person: Person, text: str, chat: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat or {"id": person.chat_id, "type": "private", "first_name": person.first_name},
        "from": person.user_json(),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": next(_update_ids), "message": message}


def button_update(person: Person, data: str, message: dict[str, Any]) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_query_ids)),
            "from": person.user_json(),
            "chat_instance": "chat-instance",
            "data": data,
            "message": message,
        },
    }


def find_button(message: ChatMessage, label: str) -> str:
    """The callback data of the button whose label is ``label`` (a tick mark is ignored)."""
    for button in message.buttons():
        if button["text"].removeprefix("✅ ") == label:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {message.labels()} on {message.text[:60]!r}")


class Harness:
    def __init__(self, api: BotApiStandIn, app: BotApp, clock: ManualClock) -> None:
        self.api = api
        self.app = app
        self.clock = clock

    @property
    def services(self) -> Services:
        services: Services = self.app.bot_data["services"]
        return services

    async def process(self, data: dict[str, Any]) -> None:
        # Through the update processor, as polling and webhooks do: it keeps each person's
        # updates in order and records each update as processed with its work.
        update = Update.de_json(data, self.app.bot)
        await self.app.update_processor.process_update(update, self.app.process_update(update))

    async def send(self, person: Person, text: str) -> None:
        await self.process(text_update(person, text))

    def message_with(self, person: Person, label: str) -> ChatMessage:
        """The newest message in the person's chat that has a button labelled ``label``."""
        for message in reversed(self.api.chat(person.chat_id)):
            if any(b["text"].removeprefix("✅ ") == label for b in message.buttons()):
                return message
        raise AssertionError(f"no message with a {label!r} button")

    async def press(self, person: Person, *labels: str) -> None:
        """Tap buttons by their labels, one after another, as a person would."""
        for label in labels:
            message = self.message_with(person, label)
            await self.tap(person, find_button(message, label), message)

    async def tap(self, person: Person, data: str, message: ChatMessage) -> None:
        await self.process(button_update(person, data, self.api.message_json(message)))

    def screen(self, person: Person) -> ChatMessage:
        return self.api.last(person.chat_id)

    def recent(self, person: Person, count: int = 2) -> str:
        """The last ``count`` messages of the chat, as one text."""
        return "\n".join(m.text for m in self.api.chat(person.chat_id)[-count:])


async def add_due_reminders(
    session: Any,
    ids: range,
    due: datetime,
    now: datetime,
    *,
    chat_of: Any = lambda i: 10_000 + i,
    nudge_of: Any = lambda i: 0,
) -> None:
    """People ``ids`` (consented, in Berlin, chat ``chat_of(i)``) whose daily reminder fell due
    at ``due``, with a nudge of ``nudge_of(i)`` minutes, written straight to the database."""
    from sqlalchemy import insert

    from db.models import ReminderRule, User

    await session.execute(
        insert(User),
        [
            {"id": i, "telegram_id": chat_of(i), "chat_id": chat_of(i), "language": "en",
             "timezone": "Europe/Berlin", "created_at": now, "consent_at": now}
            for i in ids
        ],
    )  # fmt: skip
    await session.execute(
        insert(ReminderRule),
        [
            {"user_id": i, "times": ["09:00"], "weekdays": 127, "timezone": "Europe/Berlin",
             "active": True, "next_due_at": due, "fire_at": due, "nudge_minutes": nudge_of(i),
             "updated_at": now}
            for i in ids
        ],
    )  # fmt: skip
