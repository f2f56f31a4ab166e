"""Reading a time zone that a person typed or picked (pure)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from bot.emergency import zone_countries

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


@cache
def _by_city() -> dict[str, str]:
    """City name (the last part of an IANA name, e.g. "new york") -> zone; zones listed in
    zone.tab win over old aliases."""
    listed = set(zone_countries())
    cities: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if "/" not in name or name.startswith(("Etc/", "SystemV/", "US/")):
            continue
        city = name.rsplit("/", 1)[-1].replace("_", " ").lower()
        if city not in cities or (name in listed and cities[city] not in listed):
            cities[city] = name
    return cities


@cache
def _finder() -> Any:
    from timezonefinder import TimezoneFinder  # loads its data once, on first use

    return TimezoneFinder()


def zone_at(latitude: float, longitude: float) -> str | None:
    """The IANA zone at a place, found offline; the place itself is not kept anywhere."""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return None
    zone = _finder().timezone_at(lat=latitude, lng=longitude)
    return str(zone) if zone else None


def parse_zone(text: str) -> str | None:
    """An IANA zone for what was typed: a zone name (any case, spaces for underscores), a city
    that names a zone ("Paris", "new york"), or a whole-hour UTC offset such as ``UTC+2``."""
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
    return _by_lower_name().get(lowered) or _by_city().get(lowered.replace("_", " "))


def local_time(zone: str, now: datetime) -> str:
    """``now`` as a wall-clock time in ``zone``, e.g. ``14:05``."""
    return now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
