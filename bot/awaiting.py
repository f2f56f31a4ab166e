"""What the next typed message from a person means: one typed shape for ``users.awaiting``.

Free text is always read for warning signs first (``bot.text_intake``); this only says what an
ordinary message answers when the bot has asked for one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Expect(StrEnum):
    TIMEZONE = "timezone"
    TIME = "time"
    PAUSE_DATE = "pause_date"
    NOTE = "note"
    """A note for the check-in ``target``."""
    INVITE = "invite"
    """An answer to the caregiver invite ``target`` (by button; text is not taken)."""
    EMERGENCY_NUMBER = "emergency"
    """The ambulance number the person uses, to be named in emergency advice."""


TYPED_INPUT = frozenset({Expect.TIMEZONE, Expect.TIME, Expect.PAUSE_DATE, Expect.EMERGENCY_NUMBER})
"""What an ordinary message answers (once read for warning signs): each has a handler of its
own (``handlers.checkin``). A note is kept with its check-in; an invite is answered by button."""


@dataclass(frozen=True)
class Awaiting:
    what: Expect
    target: int | None = None

    def encode(self) -> str:
        return self.what.value if self.target is None else f"{self.what.value}:{self.target}"

    @classmethod
    def decode(cls, raw: str | None) -> Awaiting | None:
        """The stored value, or None when nothing (or something unreadable) is stored."""
        if not raw:
            return None
        what, _, target = raw.partition(":")
        if what not in Expect.__members__.values():
            return None
        if target and not target.isdigit():
            return None
        return cls(Expect(what), int(target) if target else None)


TIMEZONE = Awaiting(Expect.TIMEZONE)
TIME = Awaiting(Expect.TIME)
PAUSE_DATE = Awaiting(Expect.PAUSE_DATE)
EMERGENCY_NUMBER = Awaiting(Expect.EMERGENCY_NUMBER)


def note_for(checkin_id: int) -> Awaiting:
    return Awaiting(Expect.NOTE, checkin_id)


def invite(invite_id: int) -> Awaiting:
    return Awaiting(Expect.INVITE, invite_id)
