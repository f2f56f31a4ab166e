"""The tables. Every instant is timezone-aware UTC; names end in ``_at``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant. SQLite keeps no offset, so values are stored as UTC and read back
    as UTC; naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC instant")

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None

        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_NEVER_REUSED = {"sqlite_autoincrement": True}
"""Ids of these tables reach buttons (callback data). SQLite would otherwise reuse the id of a
deleted row, and an old button could then act on someone else's new row."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        date: Date(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class User(Base):
    """A person who has talked to the bot. Holds no health data."""

    __tablename__ = "users"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    consent_at: Mapped[datetime | None]
    awaiting: Mapped[str | None] = mapped_column(String(32))
    """What free text from this user means right now (``timezone``, ``note:<checkin id>``...)."""
    display_name: Mapped[str | None] = mapped_column(String(64))
    """The first name Telegram gives; shown to caregivers and to the patient about them."""
    bone_risk: Mapped[bool | None] = mapped_column(Boolean)
    """Profile: long-term or repeated steroids, osteoporosis or older age (None: not answered)."""
    immunosuppressed: Mapped[bool | None] = mapped_column(Boolean)
    """Profile: an MS treatment that lowers the immune defences (None: not answered)."""
    cancer_history: Mapped[bool | None] = mapped_column(Boolean)
    """Profile: cancer in the past (None: not answered)."""
    profile_at: Mapped[datetime | None]
    """When the profile questions were last answered."""
    confirm_nonce: Mapped[str | None] = mapped_column(String(16))
    """The nonce of the consent or delete question shown last: only its buttons act."""
    keep_days: Mapped[int | None] = mapped_column(Integer)
    """How long check-ins and what hangs on them are kept: 90 or 365 days, None for ever."""
    emergency_number: Mapped[str | None] = mapped_column(String(16))
    """The ambulance number the person saved (digits, maybe a leading +): named first in
    emergency advice, before the checked number of their country, if there is one."""


class ProcessedUpdate(Base):
    """An update already processed (per bot), so a redelivered one is not processed twice."""

    __tablename__ = "processed_updates"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)


class PeriodicRun(Base):
    """A periodic job shared by every instance (digests, housekeeping): whoever claims it when it
    is due runs it; the lease lets another instance take over from one that died."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_run_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]


class CheckIn(Base):
    """One check-in. While open it holds its draft state; the answers table is the record."""

    __tablename__ = "checkins"
    __table_args__ = (
        Index("ix_checkins_user_status", "user_id", "status"),
        # At most one open check-in per person, whatever races happen (two /checkin at once).
        Index(
            "uq_checkins_one_open",
            "user_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        _NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # open | complete | cancelled | abandoned
    step: Mapped[str] = mapped_column(String(24))
    pain_score: Mapped[int | None] = mapped_column(SmallInteger)
    state: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=0)
    reminder_delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder_deliveries.id", ondelete="SET NULL")
    )
    """The reminder this check-in was started from, if any."""

    answers: Mapped[list[CheckInAnswer]] = relationship(
        back_populates="checkin", cascade="all, delete-orphan", passive_deletes=True
    )


class CheckInAnswer(Base):
    """One chosen option of one question: (checkin, question, value). History queries these."""

    __tablename__ = "checkin_answers"
    __table_args__ = (UniqueConstraint("checkin_id", "question", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(32))

    checkin: Mapped[CheckIn] = relationship(back_populates="answers")


class Escalation(Base):
    """Advice given: the tier, the rules that fired and the warning signs behind them. It is also
    the outbox row of the patient's message: stored first, then sent and retried until Telegram
    confirms it (``sent_at``)."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_pending", "sent_at", "next_attempt_at"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    checkin_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), index=True
    )
    """None for a warning sign typed outside any check-in."""
    tier: Mapped[str] = mapped_column(String(12))  # emergency | urgent | soon
    rule_ids: Mapped[str] = mapped_column(String(255))  # space-separated rule ids
    findings: Mapped[str] = mapped_column(String(255), default="")
    """Space-separated warning-sign codes behind the rules (what the message lists)."""
    pain: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    """When the outbox may try again; None once sent or given up."""
    failed: Mapped[str | None] = mapped_column(String(32))
    """Why delivery stopped for good (the chat blocked the bot), if it did."""


class CaregiverAlert(Base):
    """The outbox row of one caregiver's alert about one escalation."""

    __tablename__ = "caregiver_alerts"
    __table_args__ = (
        UniqueConstraint("escalation_id", "link_id"),
        Index("ix_caregiver_alerts_pending", "sent_at", "next_attempt_at"),
        _NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), index=True
    )
    link_id: Mapped[int] = mapped_column(ForeignKey("caregiver_links.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    failed: Mapped[str | None] = mapped_column(String(32))


class SnippetDelivery(Base):
    """Which snippet was shown after which check-in, so the next one differs."""

    __tablename__ = "snippet_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    checkin_id: Mapped[int] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), index=True
    )
    snippet_id: Mapped[str] = mapped_column(String(64))
    delivered_at: Mapped[datetime]


class ReminderRule(Base):
    """A patient's reminder schedule and its next due instants. The sweep claims rows whose
    ``fire_at`` (the earliest of the regular, snoozed and nudge instants) has come."""

    __tablename__ = "reminder_rules"
    __table_args__ = (Index("ix_reminder_rules_active_fire_at", "active", "fire_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    times: Mapped[list[str]]
    """Local times of day, "HH:MM"."""
    weekdays: Mapped[int] = mapped_column(SmallInteger)
    """Bit mask: bit 0 is Monday, bit 6 Sunday."""
    timezone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    paused_until: Mapped[date | None]
    next_due_at: Mapped[datetime | None]
    snooze_until: Mapped[datetime | None]
    nudge_at: Mapped[datetime | None]
    nudge_delivery_id: Mapped[int | None] = mapped_column(Integer)
    nudge_minutes: Mapped[int] = mapped_column(Integer, default=180)
    """0 turns the nudge off."""
    fire_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class ReminderDelivery(Base):
    """One occurrence of a reminder or nudge. (rule, due instant, kind) is unique, so two
    claimers can never both own the same occurrence."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (UniqueConstraint("rule_id", "due_at", "kind"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("reminder_rules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(8))  # reminder | snooze | nudge
    status: Mapped[str] = mapped_column(String(12))  # pending | sent | failed | missed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(64))


class CaregiverInvite(Base):
    """A single-use, expiring invite. Only the SHA-256 of the token is stored."""

    __tablename__ = "caregiver_invites"
    __table_args__ = _NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CaregiverLink(Base):
    """A caregiver who may see a patient's history, while ``revoked_at`` is empty."""

    __tablename__ = "caregiver_links"
    __table_args__ = (UniqueConstraint("patient_id", "caregiver_id"), _NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SharingSettings(Base):
    """What a patient's caregivers receive."""

    __tablename__ = "sharing_settings"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    red_alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    amber_alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    missed_days: Mapped[int] = mapped_column(SmallInteger, default=0)
    """Alert caregivers after this many days without a check-in; 0 is off."""
    weekly_summary: Mapped[bool] = mapped_column(Boolean, default=False)
    caregiver_files: Mapped[bool] = mapped_column(Boolean, default=False)
    """Caregivers may download the patient's check-ins (/export's files) from /patients."""
    missed_alert_at: Mapped[datetime | None]
    summary_at: Mapped[datetime | None]


class CaregiverView(Base):
    """Every time a caregiver looked at (or was sent) a patient's history."""

    __tablename__ = "caregiver_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    viewed_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))  # history | summary
    days: Mapped[int] = mapped_column(SmallInteger)
