"""Breaking the bot on purpose: people tapping current, stale and forged buttons, updates
delivered twice, odd text and commands, through the real Application and the Bot API stand-in;
and the database invariants that must hold after every step. Used by the hypothesis state
machine in tests/test_state_machine.py and by ``python -m benchmarks.reliability``."""

from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from bot.checkin import FINISHED, TIER_ORDER, CheckinState
from db.models import CaregiverAlert, CheckIn, CheckInAnswer, Escalation, User
from tests.harness import Harness, Person, button_update, text_update

TEXTS = (
    "my back hurts today",
    "I can't pee since last night",
    "no fever, all fine",
    "my son wet the bed",
    "I think my bum might be a bit numb?",
    "Europe/Paris",
    "8pm",
    "tired \x00 and sore\x07",
    "x" * 4096,
    "🙂",
    "",
)
COMMANDS = ("/checkin", "/history", "/settings", "/caregivers", "/help", "/export", "/start")
FORGED = (
    "c:1:pain:5",
    "c:999999999:where:+lower",
    "c:1:warning:>",
    "c:12345678901:pain:1",
    "x:del",
    "x:del:deadbeef",
    "o:yes",
    "g:rm:1",
    "g:acc:1",
    "h:1:7",
    "m:1:go",
    "f:bb:y",
    "p:imm:y",
    "s:off",
    "nonsense",
    "",
)
SORRY = "something went wrong"


class ErrorCounter(logging.Handler):
    """Counts ERROR records (an unhandled error reaches the error handler, which logs one)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@dataclass
class Fuzzer:
    bot: Harness
    people: list[Person]
    rng: random.Random
    sent: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0

    async def onboard(self) -> None:
        for person in self.people:
            await self.bot.send(person, "/start")
            await self.bot.press(person, "Yes, that's OK", "Berlin")
            for _ in range(3):
                await self.bot.press(person, self.rng.choice(("Yes", "No", "Not sure")))
            await self.bot.press(person, "Not now")

    async def _process(self, update: dict[str, Any]) -> None:
        self.sent.append(copy.deepcopy(update))
        if len(self.sent) > 200:
            del self.sent[: len(self.sent) - 200]
        await self.bot.process(update)
        self.steps += 1

    def _with_buttons(self, person: Person) -> list[Any]:
        return [m for m in self.bot.api.chat(person.chat_id) if m.buttons()]

    async def tap_current(self, person: Person, index: int) -> None:
        messages = self._with_buttons(person)
        if not messages:
            await self.command(person, 0)
            return
        message = messages[-1]
        buttons = message.buttons()
        data = str(buttons[index % len(buttons)]["callback_data"])
        await self._process(button_update(person, data, self.bot.api.message_json(message)))

    async def tap_stale(self, person: Person, index: int) -> None:
        messages = self._with_buttons(person)
        if len(messages) < 2:
            await self.tap_current(person, index)
            return
        message = messages[index % (len(messages) - 1)]
        buttons = message.buttons()
        data = str(buttons[index % len(buttons)]["callback_data"])
        await self._process(button_update(person, data, self.bot.api.message_json(message)))

    async def forge(self, person: Person, index: int) -> None:
        """Someone else's button data, or made-up data, tapped on this person's own message."""
        others = [p for p in self.people if p != person]
        data = FORGED[index % len(FORGED)]
        if others and index % 2:
            theirs = self._with_buttons(others[index % len(others)])
            if theirs:
                buttons = theirs[-1].buttons()
                data = str(buttons[index % len(buttons)]["callback_data"])
        own = self._with_buttons(person) or self.bot.api.chat(person.chat_id)
        if not own:
            return
        message = self.bot.api.message_json(own[-1])
        await self._process(button_update(person, data, message))

    async def repeat(self, index: int) -> None:
        """An update delivered again, exactly as before."""
        if self.sent:
            await self._process(copy.deepcopy(self.sent[index % len(self.sent)]))

    async def text(self, person: Person, index: int) -> None:
        await self._process(text_update(person, TEXTS[index % len(TEXTS)] or " "))

    async def command(self, person: Person, index: int) -> None:
        await self._process(text_update(person, COMMANDS[index % len(COMMANDS)]))

    async def random_step(self) -> None:
        person = self.rng.choice(self.people)
        index = self.rng.randrange(1_000)
        roll = self.rng.random()
        if roll < 0.45:
            await self.tap_current(person, index)
        elif roll < 0.55:
            await self.repeat(index)
        elif roll < 0.65:
            await self.tap_stale(person, index)
        elif roll < 0.72:
            await self.forge(person, index)
        elif roll < 0.87:
            await self.text(person, index)
        else:
            await self.command(person, index)

    def sorry_count(self) -> int:
        return sum(
            SORRY in t for person in self.people for t in self.bot.api.texts_sent(person.chat_id)
        )


async def invariants(bot: Harness) -> list[str]:
    """What must hold in the database whatever people do; an empty list when it all holds."""
    broken: list[str] = []
    async with bot.services.sessions() as session:
        open_per_user = await session.execute(
            select(CheckIn.user_id, func.count())
            .where(CheckIn.status == "open")
            .group_by(CheckIn.user_id)
            .having(func.count() > 1)
        )
        broken += [f"user {u} has {n} open check-ins" for u, n in open_per_user.all()]
        checkins = (await session.scalars(select(CheckIn))).all()
        escalated: dict[int, set[str]] = {}
        for checkin_id, tier in (
            await session.execute(select(Escalation.checkin_id, Escalation.tier))
        ).all():
            if checkin_id is not None:
                escalated.setdefault(checkin_id, set()).add(tier)
        for checkin in checkins:
            state = CheckinState.from_json(checkin.state)
            if checkin.status == "open" and checkin.step == FINISHED:
                broken.append(f"checkin {checkin.id} open but finished")
            if checkin.status == "complete" and checkin.finished_at is None:
                broken.append(f"checkin {checkin.id} complete without a finish time")
            if state.escalated not in TIER_ORDER:
                broken.append(f"checkin {checkin.id} has an unknown tier")
            for tier in escalated.get(checkin.id, set()):
                if TIER_ORDER.index(tier) > TIER_ORDER.index(state.escalated):
                    broken.append(f"checkin {checkin.id} escalated above what its state says")
            if checkin.pain_score is not None and not 0 <= checkin.pain_score <= 10:
                broken.append(f"checkin {checkin.id} has pain {checkin.pain_score}")
        orphans = await session.scalar(
            select(func.count())
            .select_from(CheckInAnswer)
            .where(~CheckInAnswer.checkin_id.in_(select(CheckIn.id)))
        )
        if orphans:
            broken.append(f"{orphans} answers without a check-in")
        doubled = await session.execute(
            select(CaregiverAlert.escalation_id, CaregiverAlert.link_id, func.count())
            .group_by(CaregiverAlert.escalation_id, CaregiverAlert.link_id)
            .having(func.count() > 1)
        )
        broken += [f"alert doubled for escalation {e}" for e, _, _ in doubled.all()]
        names = (await session.scalars(select(User.display_name))).all()
        notes = (await session.scalars(select(CheckIn.note))).all()
        if any("\x00" in (t or "") for t in (*names, *notes)):
            broken.append("stored text holds a NUL byte")
    return broken
