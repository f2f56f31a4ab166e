"""When a reminder is due: local wall-clock times and weekdays in an IANA zone, turned into UTC
instants (pure). See docs/scheduling.md for the policy.

DST: a local time that does not exist (spring forward) moves forward to the first valid time, the
instant the clocks change; an ambiguous one (fall back) fires once, at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALL_DAYS = frozenset(range(7))
"""Weekdays as Python numbers them: Monday is 0, Sunday is 6."""
WORKDAYS = frozenset(range(5))
MAX_TIMES = 4


@dataclass(frozen=True)
class Rule:
    """A patient's reminder times: local times of day, weekdays, and their time zone."""

    times: tuple[time, ...]
    weekdays: frozenset[int]
    zone: str
    paused_until: date | None = None
    """No reminder before this local date (a pause); None when not paused."""

    def __post_init__(self) -> None:
        if not self.times:
            raise ValueError("a reminder rule needs at least one time")
        if not self.weekdays or not self.weekdays <= ALL_DAYS:
            raise ValueError("weekdays must be a non-empty subset of 0..6")


def resolve(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` at ``at`` in ``zone``, by the DST policy above."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # exists; when ambiguous, fold=0 is the first of the two
    # In a gap: find the instant the clocks jumped, the first valid local time after ``naive``.
    # The instant read with the later offset lies before the gap, the one read with the earlier
    # offset after it; transitions fall on whole minutes, so halve to the minute.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    if low > high:
        low, high = high, low
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        middle = middle.replace(second=0, microsecond=0)
        if middle <= low:
            break
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


def next_due(rule: Rule, after: datetime) -> datetime:
    """The first reminder instant strictly after ``after`` (UTC)."""
    zone = ZoneInfo(rule.zone)
    local_day = after.astimezone(zone).date() - timedelta(days=1)  # a gap can pull a day back
    if rule.paused_until is not None and rule.paused_until > local_day:
        local_day = rule.paused_until
    times = sorted(rule.times)
    for offset in range(0, 9):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in rule.weekdays:
            continue
        for at in times:
            candidate = resolve(day, at, zone)
            if candidate > after:
                return candidate
    raise AssertionError("a rule with a weekday always has an occurrence within 8 days")


def end_of_local_day(instant: datetime, zone: str) -> datetime:
    """The last instant of ``instant``'s local day: a skip of today moves past it."""
    tz = ZoneInfo(zone)
    tomorrow = instant.astimezone(tz).date() + timedelta(days=1)
    return resolve(tomorrow, time(0, 0), tz) - timedelta(microseconds=1)


_TIME = re.compile(
    r"^\s*(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2})|(?P<hsuffix>h))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)?\s*$",
    re.IGNORECASE,
)


def parse_time(text: str) -> time | None:
    """A time of day as people type it: ``20:30``, ``8pm``, ``8:30 am``, ``7.15``, ``21h``."""
    match = _TIME.match(text)
    if not match:
        return None
    hour, minute = int(match["h"]), int(match["m"] or 0)
    ampm = (match["ampm"] or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif match["m"] is None and not match["hsuffix"]:
        # A bare number such as "8" is ambiguous; ask rather than guess morning or evening.
        return None
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def format_times(times: Iterable[time]) -> str:
    return ", ".join(t.strftime("%H:%M") for t in sorted(times))


def parse_stored_times(values: Sequence[str]) -> tuple[time, ...]:
    return tuple(sorted(time.fromisoformat(v) for v in values))


def weekday_mask(days: Iterable[int]) -> int:
    return sum(1 << d for d in set(days))


def weekdays_of(mask: int) -> frozenset[int]:
    return frozenset(d for d in range(7) if mask & (1 << d))
