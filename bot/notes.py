"""Notes on a finished check-in: asking for one, reading it back, removing it. The note itself
arrives as typed text (``bot.text_intake`` keeps it with its check-in)."""

from __future__ import annotations

import hashlib
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import awaiting as expect
from bot.awaiting import Awaiting
from bot.checkin_service import CheckinService, Reply, Status
from db.repo import checkins as repo


def fingerprint(note: str) -> str:
    """Eight hex digits that tell one note from another, for a button that acts on the note it
    showed (the note itself never goes into a button)."""
    return hashlib.blake2s(note.encode(), digest_size=4).hexdigest()


class Removal(Enum):
    REMOVED = "removed"
    """Removed, or gone already (a repeated tap)."""
    CHANGED = "changed"
    """The note changed after the button was shown: left as it is."""


class NoteService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], checkins: CheckinService
    ) -> None:
        self.sessions = sessions
        self.checkins = checkins
        """Whether a check-in was left too long is the check-in service's to say."""

    async def request_note(self, telegram_id: int, checkin_id: int) -> Reply:
        """After the summary: the next text message becomes this check-in's note."""
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return Reply(Status.STALE)
            checkin, user = found
            if checkin.status != repo.COMPLETE or self.checkins.is_idle(checkin):
                return Reply(Status.STALE, user.language)
            user.awaiting = expect.note_for(checkin.id).encode()
            return Reply(Status.OK, user.language, checkin.id, note=checkin.note)

    async def stop_note(self, telegram_id: int, checkin_id: int) -> tuple[str, str | None] | None:
        """The note prompt's Cancel or Keep: stop waiting for this check-in's note (only for it:
        a wait for something else asked since goes on). (language, the note kept), or None if
        the check-in is not theirs."""
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return None
            checkin, user = found
            if Awaiting.decode(user.awaiting) == expect.note_for(checkin.id):
                user.awaiting = None
            return user.language, checkin.note

    async def remove_note(
        self, telegram_id: int, checkin_id: int, shown: str = ""
    ) -> tuple[str, Removal] | None:
        """Remove the note of one's own finished check-in, if it is still the one the button
        showed (``shown``, its fingerprint). (language, what happened), or None if the
        check-in is not theirs. Removing a note that is gone already is the same result as
        removing it (a repeated tap)."""
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return None
            checkin, user = found
            if shown and checkin.note is not None and fingerprint(checkin.note) != shown:
                return user.language, Removal.CHANGED
            checkin.note = None
            if Awaiting.decode(user.awaiting) == expect.note_for(checkin.id):
                user.awaiting = None
            return user.language, Removal.REMOVED
