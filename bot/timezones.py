"""Reading a time zone that a person typed or picked (pure)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

QUICK_ZONES: tuple[str, ...] = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
)
"""Offered as buttons; anything else can be typed."""

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?00)?$")


@cache
def _by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_zone(text: str) -> str | None:
    """An IANA zone name for what was typed (any case, spaces for underscores), or a whole-hour
    UTC offset such as ``UTC+2``; None when it is neither."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 64:
        return None
    lowered = cleaned.lower().replace(" ", "_")
    if lowered in ("utc", "gmt", "z"):
        return "UTC"
    match = _OFFSET.match(cleaned.lower().replace(" ", ""))
    if match:
        sign, hours = match.group(1), int(match.group(2))
        if hours == 0:
            return "UTC"
        if hours > 14 or (sign == "-" and hours > 12):
            return None
        # POSIX-style Etc zones have the sign inverted: UTC+2 is Etc/GMT-2.
        return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return _by_lower_name().get(lowered)


def local_time(zone: str, now: datetime) -> str:
    """``now`` as a wall-clock time in ``zone``, e.g. ``14:05``."""
    return now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
