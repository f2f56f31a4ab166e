"""The reminder sweep: claim due rules, record each occurrence, send, advance.

One repeating job per process calls :meth:`Sweeper.run_once`. It works batch by batch, in a
constant number of statements per batch whatever its size: one transaction claims the batch (a
lease), reads what it needs in three queries and records every occurrence to send in one batched
INSERT; the messages go out at once (within the rate limiter's limit); one more transaction
records what Telegram said and advances the schedules. There is no job per user: the
database is the truth, so memory and start-up do not grow with the number of patients, and several
instances share the work through row leases (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). Each
occurrence is a row with a unique (rule, due instant, kind) key. The contract is docs/scheduling.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.metrics import Metrics
from bot.reminders import refire, reschedule
from db.models import ReminderDelivery, ReminderRule, User
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


_OUTCOME = {
    Result.SENT: "sent",
    Result.RETRY: "retried",
    Result.BLOCKED: "failed",
    Result.FAILED: "failed",
}
"""The metric outcome of each send result (bot/metrics.py)."""


def lag_seconds(oldest_due: datetime | None, now: datetime) -> float:
    """How overdue the most overdue reminder is (0 when none is)."""
    return max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0


class ReminderSender(Protocol):
    """The port to the messenger (handlers/reminders.py implements it for Telegram)."""

    async def send(self, item: Outgoing) -> SendResult: ...


@dataclass(frozen=True)
class SweepSettings:
    batch_size: int = 50
    lease: timedelta = timedelta(seconds=120)
    grace: timedelta = timedelta(hours=2)
    max_attempts: int = 5
    concurrent_sends: int = 100
    """Messages of a batch in flight at once: well under the transport's connection pool (256),
    which the handlers share, so no send waits past the pool timeout for a connection."""


@dataclass(frozen=True)
class _Plan:
    kind: Kind
    due_at: datetime
    delivery_id: int
    outgoing: Outgoing


class _Lookup:
    """What the due-event decisions of one batch read, loaded before them in at most two
    queries; a question not foreseen is asked of the database (rare: the schedule moved on past
    a missed occurrence)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._by_key: dict[tuple[int, datetime, str], ReminderDelivery] = {}
        self._by_id: dict[int, ReminderDelivery] = {}
        self._asked: set[tuple[int, datetime]] = set()
        self._starts: dict[int, datetime] = {}
        self._starts_known: set[int] = set()
        self.new: list[dict[str, object]] = []
        """Occurrences to record, as rows: written in one INSERT by the caller."""
        self.skipped = 0
        """Occurrences recorded as missed (past the grace period)."""

    def record(
        self, rule: ReminderRule, due_at: datetime, kind: Kind, status: str, now: datetime
    ) -> None:
        self.new.append(
            {"rule_id": rule.id, "user_id": rule.user_id, "due_at": due_at, "kind": kind.value,
             "status": status, "attempts": 0, "created_at": now}
        )  # fmt: skip

    async def load(self, rules: list[ReminderRule], now: datetime) -> None:
        due_ats = {
            t
            for rule in rules
            for t in (rule.next_due_at, rule.snooze_until, rule.nudge_at)
            if t is not None and t <= now
        }
        nudges = [r for r in rules if r.nudge_at is not None and r.nudge_at <= now]
        ids = {r.nudge_delivery_id for r in nudges if r.nudge_delivery_id}
        rule_ids = [r.id for r in rules]
        for delivery in await repo.deliveries_for(self.session, rule_ids, due_ats, ids):
            self._keep(delivery)
        self._asked = {(rule_id, t) for rule_id in rule_ids for t in due_ats}
        users = {r.user_id for r in nudges}
        self._starts = await repo.latest_checkin_starts(self.session, users)
        self._starts_known = users

    def _keep(self, delivery: ReminderDelivery) -> None:
        self._by_key[(delivery.rule_id, delivery.due_at, delivery.kind)] = delivery
        self._by_id[delivery.id] = delivery

    async def delivery(self, rule_id: int, due_at: datetime, kind: str) -> ReminderDelivery | None:
        found = self._by_key.get((rule_id, due_at, kind))
        if found is not None or (rule_id, due_at) in self._asked:
            return found
        found = await repo.delivery(self.session, rule_id, due_at, kind)
        if found is not None:
            self._keep(found)
        return found

    async def by_id(self, delivery_id: int) -> ReminderDelivery | None:
        if delivery_id in self._by_id:
            return self._by_id[delivery_id]
        return await self.session.get(ReminderDelivery, delivery_id)

    async def checkin_started_since(self, user_id: int, since: datetime) -> bool:
        if user_id in self._starts_known:
            started = self._starts.get(user_id)
            return started is not None and started >= since
        return await repo.checkin_started_since(self.session, user_id, since)


class Sweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        sender: ReminderSender,
        settings: SweepSettings,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.sessions = sessions
        self.clock = clock
        self.sender = sender
        self.settings = settings

    async def run_once(self) -> int:
        """Handle everything due now, batch by batch; returns how many rules were handled."""
        handled = 0
        async with self.sessions.begin() as session:
            oldest = await repo.oldest_due(session, self.clock.now())
        self.metrics.sweep_lag.set(lag_seconds(oldest, self.clock.now()))
        while True:
            token = secrets.token_hex(8)
            now = self.clock.now()
            async with self.sessions.begin() as session:
                claimed = await repo.claim(
                    session, now, self.settings.lease, token, self.settings.batch_size
                )
            if not claimed:
                return handled
            try:
                await self._batch(claimed, token)
            except Exception as exc:  # one batch failing must not stop the sweep for good
                log.error("reminder batch of %d failed: %s", len(claimed), type(exc).__name__)
            handled += len(claimed)
            if len(claimed) < self.settings.batch_size:
                return handled

    async def _batch(self, claimed: list[int], token: str) -> None:
        try:
            plans = await self._prepare(claimed, token)
        except IntegrityError:
            # Another claimer recorded one of these occurrences (our lease ran out meanwhile):
            # rule by rule, so the others still go out.
            log.info("reminder batch: an occurrence was already recorded; rule by rule")
            plans = []
            for rule_id in claimed:
                with contextlib.suppress(IntegrityError):
                    plans.extend(await self._prepare([rule_id], token))
        if not plans:
            return
        slots = asyncio.Semaphore(self.settings.concurrent_sends)

        async def send(outgoing: Outgoing) -> SendResult:
            async with slots:
                return await self.sender.send(outgoing)

        outcomes = await asyncio.gather(
            *(send(plan.outgoing) for _, plan in plans), return_exceptions=True
        )
        results = [
            outcome
            if isinstance(outcome, SendResult)
            else SendResult(Result.RETRY, error=type(outcome).__name__.lower()[:64])
            for outcome in outcomes
        ]
        await self._record(token, plans, results)
        for outcome in results:
            self.metrics.reminders.labels(_OUTCOME[outcome.result]).inc()

    async def _prepare(self, rule_ids: list[int], token: str) -> list[tuple[int, _Plan]]:
        """Decide what is due for each rule and record the occurrences before sending (their
        unique key is what makes each exactly-once), in one transaction of a few statements."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            with session.no_autoflush:
                found = await repo.leased_many(session, rule_ids, token)
                lookup = _Lookup(session)
                await lookup.load([rule for rule, _ in found], now)
                chosen: list[tuple[ReminderRule, User, Kind, datetime, int | None]] = []
                for rule, user in found:
                    event = await self._due_event(lookup, rule, now)
                    if event is None:
                        self._release(rule)
                        continue
                    kind, due_at = event
                    delivery = await lookup.delivery(rule.id, due_at, kind.value)
                    if delivery is not None and delivery.status != repo.PENDING:
                        # Already handled (sent, failed or missed): just move the schedule on.
                        self._advance(rule, kind, now, None)
                        self._release(rule)
                        continue
                    if delivery is None:
                        lookup.record(rule, due_at, kind, repo.PENDING, now)
                    chosen.append((rule, user, kind, due_at, delivery.id if delivery else None))
            rules = [rule for rule, _ in found]
            session.expunge_all()  # written below in bulk, not row by row by the unit of work
            recorded = await repo.insert_deliveries(session, lookup.new)
            await repo.write_rules(session, rules)
        if lookup.skipped:
            self.metrics.reminders.labels("skipped").inc(lookup.skipped)
        plans = []
        for rule, user, kind, due_at, known in chosen:
            delivery_id = known if known is not None else recorded[rule.id]
            outgoing = Outgoing(delivery_id, user.chat_id, user.language, kind)
            plans.append((rule.id, _Plan(kind, due_at, delivery_id, outgoing)))
        return plans

    async def _due_event(
        self, lookup: _Lookup, rule: ReminderRule, now: datetime
    ) -> tuple[Kind, datetime] | None:
        """The one thing to send now, if any. Overdue occurrences past the grace period are
        recorded as missed and skipped; the schedule then goes on from now."""
        grace = self.settings.grace
        if rule.next_due_at is not None and rule.next_due_at <= now:
            due_at = rule.next_due_at
            if now - due_at > grace:
                retry = await lookup.delivery(rule.id, due_at, Kind.REMINDER.value)
                if retry is not None and retry.status == repo.PENDING:
                    return Kind.REMINDER, due_at  # a retry in progress is finished
                if retry is None:
                    lookup.record(rule, due_at, Kind.REMINDER, repo.MISSED, now)
                    lookup.skipped += 1
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
            retry = await lookup.delivery(rule.id, due_at, Kind.SNOOZE.value)
            if retry is not None and retry.status == repo.PENDING:
                return Kind.SNOOZE, due_at
            rule.snooze_until = None
        if rule.nudge_at is not None and rule.nudge_at <= now:
            nudge_at = rule.nudge_at
            reminder_sent = (
                await lookup.by_id(rule.nudge_delivery_id) if rule.nudge_delivery_id else None
            )
            since = reminder_sent.sent_at if reminder_sent and reminder_sent.sent_at else nudge_at
            if now - nudge_at <= grace and not await lookup.checkin_started_since(
                rule.user_id, since
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

    async def _record(
        self, token: str, plans: list[tuple[int, _Plan]], outcomes: list[SendResult]
    ) -> None:
        """What Telegram said about each message of the batch, in one transaction."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            with session.no_autoflush:
                ids = {plan.delivery_id for _, plan in plans}
                deliveries = {d.id: d for d in await repo.deliveries_for(session, [], set(), ids)}
                held = {
                    rule.id: rule
                    for rule, _ in await repo.leased_many(session, [r for r, _ in plans], token)
                }
                for (rule_id, plan), outcome in zip(plans, outcomes, strict=True):
                    self._apply(
                        rule_id, held.get(rule_id), deliveries.get(plan.delivery_id), plan,
                        outcome, now,
                    )  # fmt: skip
            session.expunge_all()  # written below in bulk
            await repo.write_outcomes(session, list(deliveries.values()))
            await repo.write_rules(session, list(held.values()))

    def _apply(
        self,
        rule_id: int,
        rule: ReminderRule | None,
        delivery: ReminderDelivery | None,
        plan: _Plan,
        outcome: SendResult,
        now: datetime,
    ) -> None:
        if delivery is None or rule is None:
            # The lease ran out while sending; the next claimer sees the delivery row.
            log.warning("reminder rule %s: lease lost while sending", rule_id)
            if delivery is not None and outcome.result is Result.SENT:
                delivery.status = repo.SENT
                delivery.sent_at = now
                delivery.message_id = outcome.message_id
            return
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
