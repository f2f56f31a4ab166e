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


def country_of(zone: str | None) -> str | None:
    """The country of a time zone, or None for zones like UTC that belong to none."""
    return zone_countries().get(zone) if zone else None


def emergency_number(zone: str | None, numbers: dict[str, str]) -> str | None:
    country = country_of(zone)
    return numbers.get(country) if country else None
