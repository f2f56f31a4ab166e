"""Caregiver invites: the patient makes a single-use link, the person who opens it sees whose it
is, and accepting it makes the caregiver link (``bot.caregivers`` holds what follows). Only a
hash of each token is stored."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import awaiting as expect
from bot.awaiting import Awaiting, Expect
from bot.caregivers import name_of
from bot.clock import Clock
from bot.sanitize import clean_text
from db.models import CaregiverInvite, CaregiverLink, User
from db.repo import caregivers as repo
from db.repo import users as user_repo

log = logging.getLogger(__name__)

TOKEN_BYTES = 16
"""128 bits of randomness; URL-safe base64 keeps it within a deep link's 64 characters."""
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
"""What a token in an invite link can look like (``secrets.token_urlsafe(TOKEN_BYTES)`` gives 22
characters); anything else after /start is words, not a token."""


def invite_token(words: str) -> str | None:
    """The invite token in what follows /start, when that is one token and nothing else
    ("/start I can't pee" is words to read, not an invite)."""
    words = words.strip()
    return words if _TOKEN.match(words) else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InviteProblem(StrEnum):
    UNKNOWN = "unknown"  # made up, or mistyped
    EXPIRED = "expired"
    USED = "used"
    SELF = "self"


@dataclass(frozen=True)
class InvitePreview:
    invite_id: int | None
    patient_name: str
    problem: InviteProblem | None = None


@dataclass(frozen=True)
class Accepted:
    patient_chat_id: int
    patient_language: str
    patient_name: str
    caregiver_name: str
    again: bool = False
    """A repeated tap on an Accept already done: the same answer, and nobody is told twice."""


class InviteService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *, invite_hours: int
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.invite_hours = invite_hours

    async def create_invite(self, patient_tg: int) -> str | None:
        """A new invite token for the patient to forward; None before consent."""
        now = self.clock.now()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        async with self.sessions.begin() as session:
            patient = await user_repo.by_telegram_id(session, patient_tg)
            if patient is None or patient.consent_at is None:
                return None
            session.add(
                CaregiverInvite(
                    patient_id=patient.id,
                    token_hash=hash_token(token),
                    created_at=now,
                    expires_at=now + timedelta(hours=self.invite_hours),
                )
            )
        log.info("caregiver invite created")
        return token

    async def preview(
        self, caregiver_tg: int, chat_id: int, language: str, name: str | None, token: str
    ) -> InvitePreview:
        """Check a token from a deep link and remember it for the Accept button."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            invite = await repo.invite_by_hash(session, hash_token(token))
            if invite is None:
                return InvitePreview(None, "", InviteProblem.UNKNOWN)
            patient = await session.get(User, invite.patient_id)
            patient_name = name_of(patient) if patient else ""
            if invite.used_at is not None:
                return InvitePreview(None, patient_name, InviteProblem.USED)
            if invite.expires_at <= now:
                return InvitePreview(None, patient_name, InviteProblem.EXPIRED)
            caregiver = await user_repo.get_or_create(session, caregiver_tg, chat_id, language, now)
            if name:
                caregiver.display_name = clean_text(name)[:64] or None
            if patient is None or caregiver.id == patient.id:
                return InvitePreview(None, patient_name, InviteProblem.SELF)
            caregiver.awaiting = expect.invite(invite.id).encode()
            return InvitePreview(invite.id, patient_name)

    async def accept(self, caregiver_tg: int, invite_id: int) -> Accepted | InviteProblem:
        """Accept the invite this person opened (and only that one); single use."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            caregiver = await user_repo.by_telegram_id(session, caregiver_tg)
            if caregiver is not None:
                again = await self._accepted_before(session, caregiver, invite_id)
                if again is not None:
                    return again
            if caregiver is None or Awaiting.decode(caregiver.awaiting) != expect.invite(invite_id):
                return InviteProblem.UNKNOWN
            caregiver.awaiting = None
            patient_id = await repo.use_invite(session, invite_id, caregiver.id, now)
            if patient_id is None:
                invite = await session.get(CaregiverInvite, invite_id)
                expired = invite is not None and invite.used_at is None
                return InviteProblem.EXPIRED if expired else InviteProblem.USED
            patient = await session.get(User, patient_id)
            assert patient is not None
            existing = await repo.link(session, patient_id, caregiver.id)
            if existing is None:
                session.add(
                    CaregiverLink(patient_id=patient_id, caregiver_id=caregiver.id, created_at=now)
                )
            else:
                existing.revoked_at = None
                existing.created_at = now
            await repo.settings_of(session, patient_id)
            log.info("caregiver link created")
            return Accepted(patient.chat_id, patient.language, name_of(patient), name_of(caregiver))

    async def _accepted_before(
        self, session: AsyncSession, caregiver: User, invite_id: int
    ) -> Accepted | None:
        """This invite was accepted by this very person and the link stands: a repeated tap."""
        invite = await session.get(CaregiverInvite, invite_id)
        if invite is None or invite.used_by != caregiver.id:
            return None
        link = await repo.active_link(session, invite.patient_id, caregiver.id)
        patient = await session.get(User, invite.patient_id)
        if link is None or patient is None:
            return None
        return Accepted(
            patient.chat_id, patient.language, name_of(patient), name_of(caregiver), again=True
        )

    async def decline(self, caregiver_tg: int) -> None:
        async with self.sessions.begin() as session:
            caregiver = await user_repo.by_telegram_id(session, caregiver_tg)
            if (
                caregiver is not None
                and (Awaiting.decode(caregiver.awaiting) or expect.TIME).what is Expect.INVITE
            ):
                caregiver.awaiting = None
