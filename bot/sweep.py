"""The reminder sweep: claim due rules, record each occurrence, send, advance.

One repeating job per process calls :meth:`Sweeper.run_once`. There is no job per user: the
database is the truth, so memory and start-up do not grow with the number of patients, and several
instances share the work through row leases (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). Each
occurrence is a row with a unique (rule, due instant, kind) key. The contract is docs/scheduling.md.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.reminders import refire, reschedule
from db.models import ReminderDelivery, ReminderRule
from db.repo import reminders as repo

log = logging.getLogger(__name__)

BACKOFF_SECONDS = 15
"""First retry delay after a timeout or a server error; doubles with each attempt."""
BACKOFF_CAP_SECONDS = 15 * 60


class Kind(StrEnum):
    REMINDER = "reminder"
    SNOOZE = "snooze"
    NUDGE = "nudge"


@dataclass(frozen=True)
class Outgoing:
    """What the sender needs to show one reminder."""

    delivery_id: int
    chat_id: int
    language: str
    kind: Kind


class Result(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # timeout, server error, or rate limit: try again later
    BLOCKED = "blocked"  # the person blocked the bot or deleted their account: stop
    FAILED = "failed"  # this message cannot be sent; go on with the schedule


@dataclass(frozen=True)
class SendResult:
    result: Result
    message_id: int | None = None
    retry_after: float | None = None
    error: str | None = None


class ReminderSender(Protocol):
    """The port to the messenger (handlers/reminders.py implements it for Telegram)."""

    async def send(self, item: Outgoing) -> SendResult: ...


@dataclass(frozen=True)
class SweepSettings:
    batch_size: int = 50
    lease: timedelta = timedelta(seconds=120)
    grace: timedelta = timedelta(hours=2)
    max_attempts: int = 5


@dataclass(frozen=True)
class _Plan:
    kind: Kind
    due_at: datetime
    delivery_id: int
    outgoing: Outgoing


class Sweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        sender: ReminderSender,
        settings: SweepSettings,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.sender = sender
        self.settings = settings

    async def run_once(self) -> int:
        """Handle everything due now, batch by batch; returns how many rules were handled."""
        handled = 0
        while True:
            token = secrets.token_hex(8)
            now = self.clock.now()
            async with self.sessions.begin() as session:
                claimed = await repo.claim(
                    session, now, self.settings.lease, token, self.settings.batch_size
                )
            if not claimed:
                return handled
            results = await asyncio.gather(
                *(self._handle(rule_id, token) for rule_id in claimed), return_exceptions=True
            )
            for rule_id, outcome in zip(claimed, results, strict=True):
                if isinstance(outcome, BaseException):
                    log.error("reminder rule %s failed: %s", rule_id, type(outcome).__name__)
            handled += len(claimed)
            if len(claimed) < self.settings.batch_size:
                return handled

    async def _handle(self, rule_id: int, token: str) -> None:
        plan = await self._prepare(rule_id, token)
        if plan is None:
            return
        outcome = await self.sender.send(plan.outgoing)
        await self._record(rule_id, token, plan, outcome)

    async def _prepare(self, rule_id: int, token: str) -> _Plan | None:
        """Decide what is due and record the occurrence before sending (its unique key is what
        makes it exactly-once). None when there is nothing to send."""
        now = self.clock.now()
        try:
            async with self.sessions.begin() as session:
                found = await repo.leased(session, rule_id, token)
                if found is None:
                    return None  # the lease expired and someone else took the rule
                rule, user = found
                event = await self._due_event(session, rule, now)
                if event is None:
                    self._release(rule)
                    return None
                kind, due_at = event
                delivery = await repo.delivery(session, rule.id, due_at, kind.value)
                if delivery is not None and delivery.status != repo.PENDING:
                    # Already handled (sent, failed or missed): just move the schedule on.
                    self._advance(rule, kind, now, None)
                    self._release(rule)
                    return None
                if delivery is None:
                    delivery = ReminderDelivery(
                        rule_id=rule.id,
                        user_id=user.id,
                        due_at=due_at,
                        kind=kind.value,
                        status=repo.PENDING,
                        attempts=0,
                        created_at=now,
                    )
                    session.add(delivery)
                    await session.flush()
                return _Plan(
                    kind,
                    due_at,
                    delivery.id,
                    Outgoing(delivery.id, user.chat_id, user.language, kind),
                )
        except IntegrityError:
            log.info("reminder rule %s: occurrence already recorded by another claimer", rule_id)
            return None

    async def _due_event(
        self, session: AsyncSession, rule: ReminderRule, now: datetime
    ) -> tuple[Kind, datetime] | None:
        """The one thing to send now, if any. Overdue occurrences past the grace period are
        recorded as missed and skipped; the schedule then goes on from now."""
        grace = self.settings.grace
        if rule.next_due_at is not None and rule.next_due_at <= now:
            due_at = rule.next_due_at
            if now - due_at > grace:
                retry = await repo.delivery(session, rule.id, due_at, Kind.REMINDER.value)
                if retry is not None and retry.status == repo.PENDING:
                    return Kind.REMINDER, due_at  # a retry in progress is finished
                if retry is None:
                    session.add(
                        ReminderDelivery(
                            rule_id=rule.id,
                            user_id=rule.user_id,
                            due_at=due_at,
                            kind=Kind.REMINDER.value,
                            status=repo.MISSED,
                            attempts=0,
                            created_at=now,
                        )
                    )
                log.info("reminder rule %s: occurrence past the grace period skipped", rule.id)
                # Go on from the first occurrence that is not too old: it may be due now.
                reschedule(rule, now - grace)
            if rule.next_due_at is not None and rule.next_due_at <= now:
                rule.snooze_until = None  # a regular reminder makes a snooze pointless
                return Kind.REMINDER, rule.next_due_at
        if rule.snooze_until is not None and rule.snooze_until <= now:
            due_at = rule.snooze_until
            if now - due_at <= grace:
                return Kind.SNOOZE, due_at
            retry = await repo.delivery(session, rule.id, due_at, Kind.SNOOZE.value)
            if retry is not None and retry.status == repo.PENDING:
                return Kind.SNOOZE, due_at
            rule.snooze_until = None
        if rule.nudge_at is not None and rule.nudge_at <= now:
            nudge_at = rule.nudge_at
            reminder_sent = (
                await session.get(ReminderDelivery, rule.nudge_delivery_id)
                if rule.nudge_delivery_id
                else None
            )
            since = reminder_sent.sent_at if reminder_sent and reminder_sent.sent_at else nudge_at
            if now - nudge_at <= grace and not await repo.checkin_started_since(
                session, rule.user_id, since
            ):
                return Kind.NUDGE, nudge_at
            rule.nudge_at = None
        refire(rule)
        return None

    def _advance(
        self, rule: ReminderRule, kind: Kind, now: datetime, sent_delivery: int | None
    ) -> None:
        if kind is Kind.REMINDER:
            reschedule(rule, now)
        elif kind is Kind.SNOOZE:
            rule.snooze_until = None
        else:
            rule.nudge_at = None
            rule.nudge_delivery_id = None
        if sent_delivery is not None and kind is not Kind.NUDGE and rule.nudge_minutes > 0:
            rule.nudge_at = now + timedelta(minutes=rule.nudge_minutes)
            rule.nudge_delivery_id = sent_delivery
        refire(rule)

    @staticmethod
    def _release(rule: ReminderRule) -> None:
        rule.lease_until = None
        rule.lease_token = None

    async def _record(self, rule_id: int, token: str, plan: _Plan, outcome: SendResult) -> None:
        now = self.clock.now()
        async with self.sessions.begin() as session:
            delivery = await session.get(ReminderDelivery, plan.delivery_id)
            found = await repo.leased(session, rule_id, token)
            if delivery is None or found is None:
                # The lease ran out while sending; the next claimer sees the delivery row.
                log.warning("reminder rule %s: lease lost while sending", rule_id)
                if delivery is not None and outcome.result is Result.SENT:
                    delivery.status = repo.SENT
                    delivery.sent_at = now
                    delivery.message_id = outcome.message_id
                return
            rule, _ = found
            delivery.attempts += 1
            delivery.error = outcome.error
            if outcome.result is Result.SENT:
                delivery.status = repo.SENT
                delivery.sent_at = now
                delivery.message_id = outcome.message_id
                self._advance(rule, plan.kind, now, delivery.id)
            elif outcome.result is Result.BLOCKED:
                delivery.status = repo.FAILED
                rule.active = False
                rule.disabled_reason = outcome.error or "blocked"
                refire(rule)
                log.info("reminders of rule %s turned off: %s", rule_id, rule.disabled_reason)
            elif outcome.result is Result.RETRY and delivery.attempts < self.settings.max_attempts:
                wait = outcome.retry_after or min(
                    BACKOFF_SECONDS * 2 ** (delivery.attempts - 1), BACKOFF_CAP_SECONDS
                )
                rule.fire_at = now + timedelta(seconds=wait)
                log.info("reminder %s: retry %d in %.0fs", delivery.id, delivery.attempts, wait)
            else:
                delivery.status = repo.FAILED
                self._advance(rule, plan.kind, now, None)
                log.warning("reminder %s failed: %s", delivery.id, outcome.error)
            self._release(rule)
