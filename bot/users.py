"""People: registration, consent, language and time zone. No health data here."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, exists
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import awaiting as expect
from bot.awaiting import Awaiting
from bot.clock import Clock
from bot.reminders import apply_zone
from bot.sanitize import clean_text
from bot.timezones import local_time, read_zone
from bot.triage import Profile
from content.loader import Catalog
from db.models import CaregiverLink, User
from db.repo import users as repo

PROFILE_FIELDS = ("immunosuppressed", "bone_risk", "cancer_history")
"""The profile questions, in the order they are asked."""


def profile_of(user: User) -> Profile:
    return Profile(
        bone_risk=user.bone_risk,
        immunosuppressed=user.immunosuppressed,
        cancer_history=user.cancer_history,
    )


@dataclass(frozen=True)
class Person:
    """What handlers need to know of a user."""

    telegram_id: int
    language: str
    consented: bool
    timezone: str | None
    awaiting: Awaiting | None
    profile: Profile
    profile_answered: bool
    emergency_number: str | None = None
    """The ambulance number the person saved, if any."""


def _person(user: User) -> Person:
    return Person(
        telegram_id=user.telegram_id,
        language=user.language,
        consented=user.consent_at is not None,
        timezone=user.timezone,
        awaiting=Awaiting.decode(user.awaiting),
        profile=profile_of(user),
        profile_answered=user.profile_at is not None,
        emergency_number=user.emergency_number,
    )


@dataclass(frozen=True)
class ZoneResult:
    zone: str | None
    local_time: str | None
    choices: tuple[str, ...] = ()
    """Places to offer: for an abbreviation (nothing saved) or a UTC offset."""
    fixed_offset: str | None = None
    """A typed UTC offset ("UTC+2"): summer time is not followed by it."""
    abbreviation: str | None = None
    place: str | None = None
    """A typed town found in several zones ("Springfield"): ``choices`` are their zones."""
    region: str | None = None
    """The region typed after the town, which the bot does not know ("Ontario")."""


class UserService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], catalog: Catalog, clock: Clock
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.clock = clock

    async def greet(
        self, telegram_id: int, chat_id: int, language_code: str | None, name: str | None = None
    ) -> Person:
        """Find or create the user on /start, recording their language and first name."""
        return await self._register(telegram_id, chat_id, language_code, name, consent=False)

    async def consent(
        self, telegram_id: int, chat_id: int, language_code: str | None, name: str | None = None
    ) -> Person:
        """Record that the person agreed to their answers being stored."""
        return await self._register(telegram_id, chat_id, language_code, name, consent=True)

    async def _register(
        self,
        telegram_id: int,
        chat_id: int,
        language_code: str | None,
        name: str | None,
        *,
        consent: bool,
    ) -> Person:
        now = self.clock.now()
        language = self.catalog.language_for(language_code)
        async with self.sessions.begin() as session:
            user = await repo.get_or_create(session, telegram_id, chat_id, language, now)
            if name:
                user.display_name = clean_text(name)[:64] or None
            if consent and user.consent_at is None:
                user.consent_at = now
            return _person(user)

    async def new_nonce(self, telegram_id: int) -> str | None:
        """A fresh nonce for a consent or delete question; buttons of older questions stop
        working. None when the person is unknown."""
        nonce = secrets.token_hex(4)
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is None:
                return None
            user.confirm_nonce = nonce
            return nonce

    async def take_nonce(self, telegram_id: int, nonce: str) -> bool:
        """Whether ``nonce`` is the one of the last question shown; it is used up either way."""
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is None or not nonce or user.confirm_nonce != nonce:
                return False
            user.confirm_nonce = None
            return True

    async def drop_nonce(self, telegram_id: int) -> bool:
        """Stop a consent or delete question that was not answered: its buttons stop working.
        Whether one was waiting."""
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is None or user.confirm_nonce is None:
                return False
            user.confirm_nonce = None
            return True

    async def get(self, telegram_id: int) -> Person | None:
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            return _person(user) if user else None

    async def decline(self, telegram_id: int) -> None:
        """Keep nothing of someone who said no: unless they had agreed before, or follow a
        patient as a caregiver (deleting them would end the link, and the patient's alerts to
        them, without a word)."""
        follows = exists().where(CaregiverLink.caregiver_id == User.id)
        async with self.sessions.begin() as session:
            await session.execute(
                delete(User).where(
                    User.telegram_id == telegram_id, User.consent_at.is_(None), ~follows
                )
            )

    async def set_language(self, telegram_id: int, language: str) -> None:
        """The language the bot speaks to this person from now on (one of the catalogue's)."""
        if language not in self.catalog.languages:
            return
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is not None:
                user.language = language

    async def set_awaiting(self, telegram_id: int, awaiting: Awaiting | None) -> None:
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is not None:
                user.awaiting = awaiting.encode() if awaiting else None

    async def set_emergency_number(self, telegram_id: int, number: str | None) -> bool:
        """Save (or with None, remove) the ambulance number this person uses; the bot stops
        waiting for one. False when there is no such consented person."""
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return False
            user.emergency_number = number
            if Awaiting.decode(user.awaiting) == expect.EMERGENCY_NUMBER:
                user.awaiting = None
            return True

    async def set_profile(self, telegram_id: int, field: str, value: bool | None) -> Person | None:
        """Record one profile answer (None: not sure). Sets the value, never flips it, so a
        repeated tap changes nothing."""
        if field not in PROFILE_FIELDS:
            return None
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return None
            setattr(user, field, value)
            if field == PROFILE_FIELDS[-1]:
                # Only a finished round counts: someone who stops half-way is asked again.
                user.profile_at = self.clock.now()
            return _person(user)

    async def set_timezone(self, telegram_id: int, text: str) -> ZoneResult:
        """Store the time zone named by ``text``; ``zone`` is None when it is not recognised or
        needs a choice (an abbreviation, a half-hour offset: see ``choices``)."""
        reading = read_zone(text, self.clock.now())
        zone = reading.zone if reading.abbreviation is None else None
        if zone is None:
            return ZoneResult(
                None,
                None,
                reading.choices,
                reading.fixed_offset,
                reading.abbreviation,
                reading.place,
                reading.region,
            )
        async with self.sessions.begin() as session:
            user = await repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return ZoneResult(None, None)
            user.timezone = zone
            if Awaiting.decode(user.awaiting) == expect.TIMEZONE:
                user.awaiting = None
            await apply_zone(session, user, zone, self.clock.now())
        return ZoneResult(zone, local_time(zone, self.clock.now()), reading.choices,
                          reading.fixed_offset)  # fmt: skip
