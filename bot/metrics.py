"""Prometheus metrics (prometheus-client), one registry per Application. Labels are kinds, tiers
and outcomes only: no label ever carries a person's id, a chat id or anything a person said."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

UPDATE_KINDS = ("message", "command", "callback_query", "other")
REMINDER_OUTCOMES = ("sent", "failed", "retried", "skipped")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "msbot_updates_handled", "Updates handled, by kind.", ["kind"], registry=r
        )
        self.update_seconds = Histogram(
            "msbot_update_seconds",
            "From an update's arrival to the end of its handling (waiting for the person's "
            "earlier updates included).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.updates_dropped = Counter(
            "msbot_updates_dropped", "Updates dropped by the per-person flood limit.", registry=r
        )
        self.checkins_started = Counter("msbot_checkins_started", "Check-ins started.", registry=r)
        self.checkins_completed = Counter(
            "msbot_checkins_completed", "Check-ins completed.", registry=r
        )
        self.escalations = Counter(
            "msbot_escalations", "Escalations recorded, by tier.", ["tier"], registry=r
        )
        self.reminders = Counter(
            "msbot_reminders",
            "Reminder and nudge sends, by outcome (sent, failed, retried, skipped).",
            ["outcome"],
            registry=r,
        )
        self.sweep_lag = Gauge(
            "msbot_sweep_lag_seconds",
            "How overdue the most overdue reminder was at the last sweep (0: none overdue).",
            registry=r,
        )
        self.bot_api_errors = Counter(
            "msbot_bot_api_errors",
            "Bot API calls that failed, by kind (timeout, network, retry_after, bad_request, "
            "forbidden, server, other).",
            ["kind"],
            registry=r,
        )
        for kind in UPDATE_KINDS:
            self.updates.labels(kind)
        for outcome in REMINDER_OUTCOMES:
            self.reminders.labels(outcome)

    def update_handled(self, kind: str, seconds: float) -> None:
        self.updates.labels(kind).inc()
        self.update_seconds.observe(seconds)

    def bot_api_error(self, kind: str) -> None:
        self.bot_api_errors.labels(kind).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when it does not exist yet): for tests and benchmarks."""
        found = self.registry.get_sample_value(name, labels or None)
        return found if found is not None else 0.0
