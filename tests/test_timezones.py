"""Time zones as people say them: cities in their common spellings, aliases, UTC offsets (with
half and quarter hours), and abbreviations only through a question."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import select

from bot.emergency import country_of, emergency_number
from bot.timezones import ABBREVIATIONS, CITY_NAMES, read_zone
from content.loader import default_catalog
from db.models import User
from tests.harness import Harness, Person
from tests.test_checkin_flow import onboard

SUMMER = datetime(2026, 7, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Munich", "Europe/Berlin"), ("münchen", "Europe/Berlin"), ("Muenchen", "Europe/Berlin"),
        ("Boston", "America/New_York"), ("san  francisco", "America/Los_Angeles"),
        ("Delhi", "Asia/Kolkata"), ("Mumbai", "Asia/Kolkata"), ("Beijing", "Asia/Shanghai"),
        ("new york", "America/New_York"), ("Europe/Berlin", "Europe/Berlin"),
        ("asia/calcutta", "Asia/Kolkata"), ("US/Eastern", "America/New_York"),
        ("utc", "UTC"), ("UTC+2", "Etc/GMT-2"), ("gmt-5", "Etc/GMT+5"),
        # A country's own zone stays its own, even where tzdata links it to a neighbour's:
        # the country, and so the emergency number, must not change.
        ("Oslo", "Europe/Oslo"), ("Reykjavik", "Atlantic/Reykjavik"),
        ("Europe/Zagreb", "Europe/Zagreb"), ("ljubljana", "Europe/Ljubljana"),
    ],
)  # fmt: skip
def test_a_typed_place_or_name_is_one_zone(typed: str, zone: str) -> None:
    assert read_zone(typed, SUMMER).zone == zone


def test_half_and_quarter_hour_offsets_are_answered_with_the_places_on_them() -> None:
    india = read_zone("UTC+5:30", SUMMER)
    assert india.zone is None and india.fixed_offset == "UTC+5:30"
    assert india.choices[:2] == ("Asia/Kolkata", "Asia/Colombo")
    assert read_zone("+05:45", SUMMER).choices == ("Asia/Kathmandu",)
    assert read_zone("UTC+5:20", SUMMER).choices == ()  # no such offset


def test_an_abbreviation_is_only_ever_a_question() -> None:
    est = read_zone("EST", SUMMER)
    assert est.zone is None and est.abbreviation == "EST"
    assert est.choices[0] == "America/New_York"
    assert set(read_zone("ist", SUMMER).choices) == {"Asia/Kolkata", "Europe/Dublin",
                                                     "Asia/Jerusalem"}  # fmt: skip


def test_every_place_offered_is_a_real_zone_with_a_country() -> None:
    zones = available_timezones()
    for place in [*CITY_NAMES.values(), *(z for zs in ABBREVIATIONS.values() for z in zs)]:
        assert place in zones and country_of(place), place
        ZoneInfo(place)


def test_alias_zones_get_their_country_and_emergency_number() -> None:
    numbers = default_catalog().emergency_numbers
    assert country_of("Asia/Calcutta") == "IN" and emergency_number("US/Eastern", numbers) == "911"


async def test_typing_an_abbreviation_asks_and_the_place_is_kept(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/timezone")
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, "EST")
    assert "EST is a clock time, not a place" in bot.screen(pat).text
    await bot.press(pat, "New York (America)")
    assert "Saved: America/New_York" in bot.recent(pat, 3)
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "America/New_York"


async def test_a_whole_hour_offset_is_kept_and_places_that_follow_summer_time_offered(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/timezone")
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, "UTC+1")
    said = bot.message_with(pat, "Other (type it)")
    assert "Saved: Etc/GMT-1" in said.text and "does not change for summer time" in said.text
    assert "Other (type it)" in said.labels() and len(said.labels()) > 1
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "Etc/GMT-1"
    await bot.press(pat, said.labels()[0])
    async with bot.services.sessions() as session:
        assert country_of(await session.scalar(select(User.timezone)))
