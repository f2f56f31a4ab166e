"""The emergency numbers the bot names in red-flag advice: their shape, a few well-known ones, and
that a patient's time zone leads to the number of their country (and to none for UTC)."""

from __future__ import annotations

import re
from importlib import resources

from bot.emergency import emergency_number
from content.loader import default_catalog

NUMBER = re.compile(r"\d+( or \d+)?")


def _zone_tab_countries() -> set[str]:
    text = (resources.files("tzdata.zoneinfo") / "zone.tab").read_text(encoding="utf-8")
    return {
        line.split("\t")[0]
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    }


def test_every_key_is_a_country_of_zone_tab() -> None:
    numbers = default_catalog().emergency_numbers
    assert numbers
    unknown = sorted(set(numbers) - _zone_tab_countries())
    assert not unknown, unknown


def test_every_value_is_digits_or_two_numbers_joined_by_or() -> None:
    for country, number in default_catalog().emergency_numbers.items():
        assert NUMBER.fullmatch(number), (country, number)


def test_well_known_numbers() -> None:
    numbers = default_catalog().emergency_numbers
    expected = {"GB": "999", "US": "911", "DE": "112", "CH": "144", "AU": "000", "JP": "119"}
    assert {country: numbers.get(country) for country in expected} == expected


def test_a_zone_gives_the_number_of_its_country() -> None:
    numbers = default_catalog().emergency_numbers
    assert emergency_number("Europe/Zurich", numbers) == "144"
    assert emergency_number("Europe/London", numbers) == "999"
    assert emergency_number("America/New_York", numbers) == "911"
    assert emergency_number("Europe/Berlin", numbers) == "112"
    assert emergency_number("Australia/Sydney", numbers) == "000"
    assert emergency_number("Asia/Tokyo", numbers) == "119"


def test_the_ambulance_line_is_given_where_a_data_set_names_another_services() -> None:
    # Android's list names a police (Lebanon, Jamaica) or fire (Trinidad and Tobago) line; the
    # national ambulance line is what the bot names (sources in the file's header).
    numbers = default_catalog().emergency_numbers
    assert emergency_number("Asia/Beirut", numbers) == "140"
    assert emergency_number("America/Jamaica", numbers) == "110"
    assert emergency_number("America/Port_of_Spain", numbers) == "811"
    assert emergency_number("America/El_Salvador", numbers) == "132"
    # Wikipedia names the Emergencies Ministry's 112 (Kyrgyzstan); Android names 118, the Italian
    # ambulance number that Rome routes to 112 (Vatican City)
    assert emergency_number("Asia/Bishkek", numbers) == "103"
    assert emergency_number("Europe/Vatican", numbers) == "112"
    # one zone for three islands with different numbers: no number rather than a wrong one
    assert emergency_number("Atlantic/St_Helena", numbers) is None


def test_utc_and_no_zone_give_no_number() -> None:
    numbers = default_catalog().emergency_numbers
    assert emergency_number("UTC", numbers) is None
    assert emergency_number("Etc/GMT-2", numbers) is None
    assert emergency_number(None, numbers) is None


def test_a_country_left_out_gives_no_number() -> None:
    # Sources disagree for Afghanistan (ITU 102, Android 020112, Wikipedia 112), so it is left out
    # on purpose and the bot falls back to "your local emergency number".
    numbers = default_catalog().emergency_numbers
    assert "AF" not in numbers
    assert emergency_number("Asia/Kabul", numbers) is None
