"""Notes on a finished check-in: asking for one, reading it back, removing it. The note itself
arrives as typed text (``bot.text_intake`` keeps it with its check-in)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import awaiting as expect
from bot.awaiting import Awaiting
from bot.checkin_service import CheckinService, Reply, Status
from db.repo import checkins as repo


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

    async def note_of(self, telegram_id: int, checkin_id: int) -> tuple[str, str | None] | None:
        """(language, the note) of one's own check-in; None if it is not theirs."""
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return None
            checkin, user = found
            return user.language, checkin.note

    async def remove_note(self, telegram_id: int, checkin_id: int) -> str | None:
        """Remove the note of one's own finished check-in; the language, or None if not theirs.
        Removing a note that is gone already is the same result (a repeated tap)."""
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return None
            checkin, user = found
            checkin.note = None
            if Awaiting.decode(user.awaiting) == expect.note_for(checkin.id):
                user.awaiting = None
            return user.language
