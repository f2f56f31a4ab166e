"""Reading a time zone that a person typed or picked (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from bot.emergency import canonical, zone_countries

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

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?:[:.h]?(\d{2}))?$")

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    # An abbreviation names an offset, not a place: summer time would be lost, so it is only
    # ever a question, answered by picking the place.
    "est": ("America/New_York", "America/Toronto"),
    "edt": ("America/New_York", "America/Toronto"),
    "et": ("America/New_York", "America/Toronto"),
    "cst": ("America/Chicago", "America/Mexico_City", "Asia/Shanghai"),
    "cdt": ("America/Chicago",),
    "ct": ("America/Chicago",),
    "mst": ("America/Denver", "America/Phoenix"),
    "mdt": ("America/Denver",),
    "pst": ("America/Los_Angeles", "America/Vancouver"),
    "pdt": ("America/Los_Angeles", "America/Vancouver"),
    "pt": ("America/Los_Angeles", "America/Vancouver"),
    "akst": ("America/Anchorage",),
    "hst": ("Pacific/Honolulu",),
    "ast": ("America/Halifax",),
    "nst": ("America/St_Johns",),
    "bst": ("Europe/London",),
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "wet": ("Europe/Lisbon",),
    "cet": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome"),
    "cest": ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome"),
    "mez": ("Europe/Berlin", "Europe/Vienna", "Europe/Zurich"),
    "mesz": ("Europe/Berlin", "Europe/Vienna", "Europe/Zurich"),
    "eet": ("Europe/Athens", "Europe/Helsinki", "Europe/Kyiv"),
    "msk": ("Europe/Moscow",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "hkt": ("Asia/Hong_Kong",),
    "sgt": ("Asia/Singapore",),
    "aest": ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane"),
    "aedt": ("Australia/Sydney", "Australia/Melbourne"),
    "acst": ("Australia/Adelaide", "Australia/Darwin"),
    "awst": ("Australia/Perth",),
    "nzst": ("Pacific/Auckland",),
    "nzdt": ("Pacific/Auckland",),
    "sast": ("Africa/Johannesburg",),
}
"""Common abbreviations, and the places they may mean."""

CITY_NAMES: dict[str, str] = {
    # Cities people name that are not the city of an IANA zone, in their common spellings.
    "munich": "Europe/Berlin", "münchen": "Europe/Berlin", "muenchen": "Europe/Berlin",
    "hamburg": "Europe/Berlin", "cologne": "Europe/Berlin", "köln": "Europe/Berlin",
    "koeln": "Europe/Berlin", "frankfurt": "Europe/Berlin", "stuttgart": "Europe/Berlin",
    "düsseldorf": "Europe/Berlin", "duesseldorf": "Europe/Berlin", "dusseldorf": "Europe/Berlin",
    "leipzig": "Europe/Berlin", "dresden": "Europe/Berlin", "hannover": "Europe/Berlin",
    "nuremberg": "Europe/Berlin", "nürnberg": "Europe/Berlin", "bremen": "Europe/Berlin",
    "wien": "Europe/Vienna", "graz": "Europe/Vienna", "salzburg": "Europe/Vienna",
    "innsbruck": "Europe/Vienna", "genf": "Europe/Zurich", "geneva": "Europe/Zurich",
    "bern": "Europe/Zurich", "basel": "Europe/Zurich", "lausanne": "Europe/Zurich",
    "manchester": "Europe/London", "birmingham": "Europe/London", "glasgow": "Europe/London",
    "edinburgh": "Europe/London", "cardiff": "Europe/London", "leeds": "Europe/London",
    "liverpool": "Europe/London", "bristol": "Europe/London", "belfast": "Europe/London",
    "cork": "Europe/Dublin", "galway": "Europe/Dublin",
    "barcelona": "Europe/Madrid", "seville": "Europe/Madrid", "valencia": "Europe/Madrid",
    "milan": "Europe/Rome", "milano": "Europe/Rome", "naples": "Europe/Rome",
    "florence": "Europe/Rome", "venice": "Europe/Rome", "munchen": "Europe/Berlin",
    "lyon": "Europe/Paris", "marseille": "Europe/Paris", "nice": "Europe/Paris",
    "boston": "America/New_York", "washington": "America/New_York",
    "philadelphia": "America/New_York", "atlanta": "America/New_York",
    "miami": "America/New_York", "baltimore": "America/New_York", "pittsburgh": "America/New_York",
    "houston": "America/Chicago", "dallas": "America/Chicago", "austin": "America/Chicago",
    "minneapolis": "America/Chicago", "new orleans": "America/Chicago",
    "san francisco": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "san diego": "America/Los_Angeles", "portland": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles", "salt lake city": "America/Denver",
    "montreal": "America/Toronto", "ottawa": "America/Toronto",
    "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "bombay": "Asia/Kolkata", "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata",
    "chennai": "Asia/Kolkata", "madras": "Asia/Kolkata", "hyderabad": "Asia/Kolkata",
    "calcutta": "Asia/Kolkata", "pune": "Asia/Kolkata",
    "beijing": "Asia/Shanghai", "peking": "Asia/Shanghai", "guangzhou": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai", "osaka": "Asia/Tokyo", "kyoto": "Asia/Tokyo",
    "canberra": "Australia/Sydney", "gold coast": "Australia/Brisbane",
    "wellington": "Pacific/Auckland", "christchurch": "Pacific/Auckland",
    "cape town": "Africa/Johannesburg", "durban": "Africa/Johannesburg",
    "rio": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo",
    "tel aviv": "Asia/Jerusalem", "abu dhabi": "Asia/Dubai",
}  # fmt: skip
"""Places whose zone has another city's name (checked by a test: every zone exists)."""


@dataclass(frozen=True)
class ZoneReading:
    """What a typed time zone means: one zone, or places to choose from, or nothing."""

    zone: str | None = None
    choices: tuple[str, ...] = ()
    fixed_offset: str | None = None
    """A UTC offset was typed ("+5:30"): the choices are the places on it now; summer time
    would not be followed by the offset itself."""
    abbreviation: str | None = None


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


def zones_at_offset(minutes: int, now: datetime) -> tuple[str, ...]:
    """Places (zones with a country) whose UTC offset is ``minutes`` right now, the best-known
    first (the short list, then by name)."""
    found = []
    for zone in zone_countries():
        offset = now.astimezone(ZoneInfo(zone)).utcoffset()
        if offset is not None and int(offset.total_seconds() // 60) == minutes:
            found.append(zone)
    return tuple(sorted(found, key=lambda z: (z not in QUICK_ZONES, z)))


def read_zone(text: str, now: datetime) -> ZoneReading:
    """What a typed time zone means: a zone name (any case, spaces for underscores; an alias
    becomes its canonical zone), a city ("Paris", "new york", "München"), an abbreviation (a
    question: "EST" has no summer time, the place has), or a UTC offset (whole hours are kept
    as the offset, with the places on it offered; half and quarter hours are places only)."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 64:
        return ZoneReading()
    lowered = cleaned.lower()
    if lowered in ("utc", "gmt", "z"):
        return ZoneReading("UTC")
    if lowered in ABBREVIATIONS:
        return ZoneReading(choices=ABBREVIATIONS[lowered], abbreviation=cleaned.upper())
    match = _OFFSET.match(lowered.replace(" ", ""))
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes not in (0, 15, 30, 45) or (sign == "-" and hours > 12):
            return ZoneReading()
        total = (hours * 60 + minutes) * (1 if sign == "+" else -1)
        places = zones_at_offset(total, now)[:8]
        label = f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
        if total == 0:
            return ZoneReading("UTC")
        if minutes:
            return ZoneReading(choices=places, fixed_offset=label)
        # POSIX-style Etc zones have the sign inverted: UTC+2 is Etc/GMT-2.
        fixed = f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
        return ZoneReading(fixed, choices=places, fixed_offset=label)
    name = lowered.replace(" ", "_")
    zone = _by_lower_name().get(name) or _by_city().get(name.replace("_", " "))
    zone = zone or CITY_NAMES.get(" ".join(lowered.replace("_", " ").split()))
    if zone is None:
        return ZoneReading()
    # A zone a country has in zone.tab stays as it is (tzdata links some to another country's
    # zone: Europe/Oslo to Europe/Berlin); only other aliases become their canonical zone.
    return ZoneReading(zone if zone in zone_countries() else canonical(zone))


def local_time(zone: str, now: datetime) -> str:
    """``now`` as a wall-clock time in ``zone``, e.g. ``14:05``."""
    return now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
