"""Caregivers: links, what they may see and receive, and the audit of their views (the invites
that make the links: ``bot.invites``).

Access is checked against the database on every request: a removed caregiver, or one whose link
never existed, gets nothing, whatever the button or command they send."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.history import HistoryService, Period
from content.loader import Catalog
from db.models import CaregiverLink, CaregiverView, SharingSettings, User
from db.repo import caregivers as repo
from db.repo import users as user_repo

log = logging.getLogger(__name__)

MISSED_DAY_CHOICES = (0, 2, 3, 7)


STALE = "\x00stale"
"""What :meth:`CaregiverService.remove` returns for a button from before the link was re-made."""


def link_nonce(created_at: datetime) -> str:
    """Which making of a link a Remove button was drawn for: a link re-made after a removal gets
    a new creation time, so an old button no longer matches it."""
    return f"{int(created_at.timestamp() * 1000) & 0xFFFFFFFF:08x}"


def name_of(user: User) -> str:
    return user.display_name or f"#{user.id}"


@dataclass(frozen=True)
class Ended:
    """A link ended by one side: who to tell, and whether this call ended it (a repeated tap
    finds it ended already and tells nobody again)."""

    name: str
    """The other person's name, as this side knows them."""
    tell_chat_id: int | None
    tell_language: str
    teller_name: str
    """The name of the one who ended it, for the other side's message."""
    now_ended: bool


@dataclass(frozen=True)
class Follower:
    link_id: int
    name: str
    since: datetime


@dataclass(frozen=True)
class SeenBy:
    name: str
    at: datetime
    kind: str


@dataclass(frozen=True)
class Sharing:
    red_alerts: bool
    amber_alerts: bool
    missed_days: int
    weekly_summary: bool
    files: bool = False
    """Caregivers may download the patient's check-ins."""


@dataclass(frozen=True)
class Overview:
    """What the patient's /caregivers screen shows."""

    language: str
    zone: str
    followers: tuple[Follower, ...]
    sharing: Sharing
    seen: tuple[SeenBy, ...]


@dataclass(frozen=True)
class Followed:
    patient_id: int
    name: str
    link_id: int = 0
    nonce: str = ""
    """Of the link as it is now: a Stop button from before a new link does nothing."""
    files: bool = False
    """The patient lets caregivers download their check-ins."""


@dataclass(frozen=True)
class Recipient:
    link_id: int
    chat_id: int
    language: str
    follows_me: bool = True
    """For :meth:`CaregiverService.links_to_tell`: True if this is a caregiver of the person,
    False if the person is their caregiver."""


@dataclass(frozen=True)
class HistoryView:
    period: Period
    patient_id: int
    name: str | None
    """The patient's name when a caregiver is looking; None for one's own history."""


def _sharing(settings: SharingSettings) -> Sharing:
    return Sharing(
        settings.red_alerts,
        settings.amber_alerts,
        settings.missed_days,
        settings.weekly_summary,
        bool(settings.caregiver_files),
    )


class CaregiverService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        catalog: Catalog,
        history: HistoryService,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.catalog = catalog
        self.history = history

    # --- the patient's side ---------------------------------------------------------------------

    async def overview(self, patient_tg: int) -> Overview | None:
        async with self.sessions.begin() as session:
            patient = await user_repo.by_telegram_id(session, patient_tg)
            if patient is None or patient.consent_at is None:
                return None
            followers = tuple(
                Follower(link.id, name_of(user), link.created_at)
                for link, user in await repo.caregivers_of(session, patient.id)
            )
            settings = await repo.settings_of(session, patient.id)
            seen = tuple(
                SeenBy(name_of(user), view.viewed_at, view.kind)
                for view, user in await repo.recent_views(session, patient.id, 5)
            )
            return Overview(
                patient.language, patient.timezone or "UTC", followers, _sharing(settings), seen
            )

    async def remove(self, patient_tg: int, link_id: int, nonce: str = "") -> Ended | str | None:
        """Remove a caregiver at once: who they are and how to tell them; None if not this
        patient's link, or :data:`STALE` if the button was drawn for an earlier link of the same
        two people (the caregiver was removed and invited again since): then nothing changes."""
        return await self._end(patient_tg, link_id, nonce, by_patient=True)

    async def stop_following(
        self, caregiver_tg: int, link_id: int, nonce: str = ""
    ) -> Ended | str | None:
        """The caregiver's own way out: the link ends at once and no alert follows. As
        :meth:`remove`, from the other side."""
        return await self._end(caregiver_tg, link_id, nonce, by_patient=False)

    async def _end(
        self, telegram_id: int, link_id: int, nonce: str, *, by_patient: bool
    ) -> Ended | str | None:
        """End a link from one side (the patient's, or the caregiver's); a link already ended
        gives the same answer and ``now_ended`` False, so nobody is told twice."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            person = await user_repo.by_telegram_id(session, telegram_id)
            link = await session.get(CaregiverLink, link_id)
            mine = (
                link is not None
                and person is not None
                and person.id == (link.patient_id if by_patient else link.caregiver_id)
            )
            if link is None or person is None or not mine:
                return None
            if nonce != link_nonce(link.created_at):
                return STALE
            now_ended = link.revoked_at is None
            if now_ended:
                link.revoked_at = now
                log.info("caregiver link %s ended by the %s", link_id,
                         "patient" if by_patient else "caregiver")  # fmt: skip
            other = await session.get(User, link.caregiver_id if by_patient else link.patient_id)
            return Ended(
                name_of(other) if other else "",
                other.chat_id if other else None,
                other.language if other else "en",
                name_of(person),
                now_ended,
            )

    async def links_to_tell(self, telegram_id: int) -> tuple[str, list[Recipient]]:
        """Before a person deletes their data: their name, and everyone on the other side of an
        active link (the caregivers who follow them, the patients they follow), to be told."""
        async with self.sessions.begin() as session:
            person = await user_repo.by_telegram_id(session, telegram_id)
            if person is None:
                return "", []
            found = await session.execute(
                select(CaregiverLink, User)
                .join(
                    User,
                    User.id
                    == case(
                        (CaregiverLink.patient_id == person.id, CaregiverLink.caregiver_id),
                        else_=CaregiverLink.patient_id,
                    ),
                )
                .where(
                    CaregiverLink.revoked_at.is_(None),
                    (CaregiverLink.patient_id == person.id)
                    | (CaregiverLink.caregiver_id == person.id),
                )
            )
            return name_of(person), [
                Recipient(link.id, other.chat_id, other.language, link.patient_id == person.id)
                for link, other in found.all()
            ]

    async def change_sharing(self, patient_tg: int, what: str, value: int | None = None) -> bool:
        """Set one sharing choice: red, amber, week to ``value`` 1 (on) or 0 (off), miss to a
        number of days. The button carries the value, so a repeated tap changes nothing; with
        no value (a keyboard from before buttons carried one) the choice is toggled."""
        async with self.sessions.begin() as session:
            patient = await user_repo.by_telegram_id(session, patient_tg)
            if patient is None or patient.consent_at is None:
                return False
            settings = await repo.settings_of(session, patient.id)
            if what in ("red", "amber", "week", "files") and value not in (None, 0, 1):
                return False
            on = None if value is None else bool(value)
            if what == "red":
                settings.red_alerts = (not settings.red_alerts) if on is None else on
            elif what == "amber":
                settings.amber_alerts = (not settings.amber_alerts) if on is None else on
            elif what == "files":
                settings.caregiver_files = (not settings.caregiver_files) if on is None else on
            elif what == "week":
                before = settings.weekly_summary
                settings.weekly_summary = (not before) if on is None else on
                if settings.weekly_summary != before:
                    settings.summary_at = self.clock.now() if settings.weekly_summary else None
            elif what == "miss":
                if value is None:
                    index = (
                        MISSED_DAY_CHOICES.index(settings.missed_days)
                        if (settings.missed_days in MISSED_DAY_CHOICES)
                        else 0
                    )
                    value = MISSED_DAY_CHOICES[(index + 1) % len(MISSED_DAY_CHOICES)]
                if value not in MISSED_DAY_CHOICES:
                    return False
                if settings.missed_days != value:
                    settings.missed_days = value
                    settings.missed_alert_at = None
            else:
                return False
            return True

    # --- the caregiver's side -------------------------------------------------------------------

    async def followed(self, caregiver_tg: int) -> list[Followed]:
        async with self.sessions.begin() as session:
            caregiver = await user_repo.by_telegram_id(session, caregiver_tg)
            if caregiver is None:
                return []
            followed = []
            for link, user in await repo.patients_of(session, caregiver.id):
                sharing = await session.get(SharingSettings, user.id)
                files = bool(sharing and sharing.caregiver_files)
                nonce = link_nonce(link.created_at)
                followed.append(Followed(user.id, name_of(user), link.id, nonce, files))
            return followed

    async def open_history(
        self, viewer_tg: int, patient_id: int | None, days: int
    ) -> HistoryView | None:
        """The history the viewer asked for, if they may see it; a caregiver's look is recorded."""
        async with self.sessions.begin() as session:
            viewer = await user_repo.by_telegram_id(session, viewer_tg)
            if viewer is None:
                return None
            if patient_id is None or patient_id == viewer.id:
                if viewer.consent_at is None:
                    return None
                period = await self.history.load(session, viewer, days)
                return HistoryView(period, viewer.id, None)
            if await repo.active_link(session, patient_id, viewer.id) is None:
                log.info("history of user %s refused to user %s", patient_id, viewer.id)
                return None
            patient = await session.get(User, patient_id)
            if patient is None:
                return None
            session.add(
                CaregiverView(
                    patient_id=patient.id,
                    caregiver_id=viewer.id,
                    viewed_at=self.clock.now(),
                    kind="history",
                    days=days,
                )
            )
            period = await self.history.load(session, patient, days)
            # The caregiver reads it in their own language.
            period = Period(period.days, period.now, period.zone, period.entries, viewer.language)
            return HistoryView(period, patient.id, name_of(patient))
