"""The emergency number for a patient's country, read from their IANA time zone."""

from __future__ import annotations

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

_SEPARATORS = str.maketrans("", "", " -./()\u00a0")


def read_number(text: str) -> str | None:
    """A phone number as a person types it ("112", "1 1 2", "0800-123", "+44 20 7946 0000"): the
    digits with a leading + kept, or None when it is not 2 to 15 digits and nothing else."""
    cleaned = text.strip().translate(_SEPARATORS)
    digits = cleaned.removeprefix("+")
    if not digits.isascii() or not digits.isdigit() or not 2 <= len(digits) <= OWN_NUMBER_MAX:
        return None
    return cleaned


def numbers_to_call(own: str | None, zone: str | None, numbers: dict[str, str]) -> str | None:
    """What emergency advice says to call: the person's own saved number first, then the checked
    number(s) of their country ("X or Y"), each once; None when neither is known. A saved
    number never hides the checked one: a typing slip must not leave only a wrong number."""
    checked = emergency_number(zone, numbers)
    listed = [own] if own else []
    listed += [n.strip() for n in checked.split(" or ")] if checked else []
    return " or ".join(dict.fromkeys(listed)) or None
