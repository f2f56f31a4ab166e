"""The emergency number for a patient's country, read from their IANA time zone."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@cache
def zone_countries() -> dict[str, str]:
    """IANA zone -> ISO 3166 country code, from the tzdata package's zone.tab."""
    text = (resources.files("tzdata.zoneinfo") / "zone.tab").read_text(encoding="utf-8")
    result: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            result[parts[2]] = parts[0]
    return result


@cache
def _links() -> dict[str, str]:
    """Old and alias zone names -> their canonical zone (tzdata's link lines)."""
    text = (resources.files("tzdata.zoneinfo") / "tzdata.zi").read_text(encoding="utf-8")
    links = {}
    for line in text.splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()[:3]
            links[alias] = target
    return links


def canonical(zone: str) -> str:
    """The canonical zone of an alias (Asia/Calcutta -> Asia/Kolkata, US/Eastern ->
    America/New_York); other zones as they are."""
    for _ in range(5):  # links may chain
        if zone not in _links():
            break
        zone = _links()[zone]
    return zone


def country_of(zone: str | None) -> str | None:
    """The country of a time zone (an alias counts as its canonical zone), or None for zones
    like UTC that belong to none."""
    if not zone:
        return None
    return zone_countries().get(zone) or zone_countries().get(canonical(zone))


def emergency_number(zone: str | None, numbers: dict[str, str]) -> str | None:
    country = country_of(zone)
    return numbers.get(country) if country else None


OWN_NUMBER_MAX = 15
"""Digits at most in a saved number (ITU-T E.164's longest international number)."""

_SEPARATORS = str.maketrans("", "", " -()\u00a0")
"""What people put between digits. Not "." or "/": "10.30" or "12/03" is a time or a date."""


def read_number(text: str) -> str | None:
    """A phone number as a person types it ("112", "1 1 2", "0800-123", "+44 20 7946 0000"): the
    digits with a leading + kept, or None when it is not 2 to 15 digits and nothing else."""
    cleaned = text.strip().translate(_SEPARATORS)
    digits = cleaned.removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or not 2 <= len(digits) <= OWN_NUMBER_MAX:
        return None
    return cleaned


@dataclass(frozen=True)
class Call:
    """What emergency advice tells a person to call."""

    numbers: tuple[str, ...]
    """The person's own saved number first, then their country's checked number(s); each once."""
    checked: bool
    """Whether a checked number of the country is among them. When it is not, advice adds
    "or your local emergency number": a saved number is never all a patient is told."""


def call_for(own: str | None, zone: str | None, numbers: dict[str, str]) -> Call:
    """The numbers emergency advice names for a person with this saved number and time zone."""
    found = emergency_number(zone, numbers)
    checked = [n.strip() for n in found.split(" or ")] if found else []
    listed = [own] if own and own.removeprefix("+") not in checked else []
    return Call(tuple(listed + checked), bool(checked))
