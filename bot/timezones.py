"""Reading a time zone that a person typed or picked (pure)."""

from __future__ import annotations

import gzip
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import get_timezone_location

from bot.emergency import canonical, zone_countries
from content.loader import LOCALES, babel_locale

log = logging.getLogger(__name__)

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

_OFFSET = re.compile(r"^(utc|gmt)?([+-])(\d{1,2})(?:[:h]?(\d{2})|[.,](\d{1,2}))?$")
"""A UTC offset, spaces taken out: "+2", "UTC-5", "gmt+1", "+05:30", "+0530", "+5h30", and half
and quarter hours in decimals ("+5.5", "UTC+5,5", "+8.75")."""

_SIGNS = str.maketrans(
    {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-",
     "\ufe63": "-", "\uff0d": "-", "\ufe62": "+", "\uff0b": "+"}
)  # fmt: skip
"""Minus and plus signs as phones and word processors type them: the typographic minus (U+2212),
en and em dashes, hyphens, full-width and small signs."""

_GMT = ("Europe/London", "Europe/Dublin", "Europe/Lisbon", "Atlantic/Reykjavik", "Africa/Accra")
_WESTERN_EUROPE = ("Europe/Lisbon", "Atlantic/Canary", "Europe/London", "Europe/Dublin")
_CENTRAL_EUROPE = ("Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome")
_GERMAN_SPEAKING = ("Europe/Berlin", "Europe/Vienna", "Europe/Zurich")
_EASTERN_EUROPE = (
    "Europe/Athens", "Europe/Helsinki", "Europe/Kyiv", "Europe/Bucharest", "Europe/Sofia"
)  # fmt: skip

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    # An abbreviation names an offset, not a place: summer time would be lost, so it is only
    # ever a question, answered by picking the place. GMT too: it is the UK's winter time, and
    # taken as UTC a reminder in London would come an hour off all summer.
    "gmt": _GMT,
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
    "akdt": ("America/Anchorage",),
    "hst": ("Pacific/Honolulu",),
    "ast": ("America/Halifax", "Asia/Riyadh"),  # Atlantic, and Arabia Standard Time
    "adt": ("America/Halifax",),
    "nst": ("America/St_Johns",),
    "ndt": ("America/St_Johns",),
    "bst": ("Europe/London", "Asia/Dhaka"),  # British Summer, and Bangladesh Standard Time
    "ist": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),  # India, Irish, Israel
    "wet": _WESTERN_EUROPE,
    "west": _WESTERN_EUROPE,  # not "Australia/West", the alias of Perth
    "wez": _WESTERN_EUROPE,  # Westeuropäische Zeit
    "wesz": _WESTERN_EUROPE,  # Westeuropäische Sommerzeit
    "cet": _CENTRAL_EUROPE,
    "cest": _CENTRAL_EUROPE,
    "met": _CENTRAL_EUROPE,  # not tzdata's old zone MET, now Brussels
    "mest": _CENTRAL_EUROPE,
    "mez": _GERMAN_SPEAKING,  # Mitteleuropäische Zeit
    "mesz": _GERMAN_SPEAKING,  # Mitteleuropäische Sommerzeit
    "eet": _EASTERN_EUROPE,
    "eest": _EASTERN_EUROPE,
    "oez": _EASTERN_EUROPE,  # Osteuropäische Zeit
    "oesz": _EASTERN_EUROPE,  # Osteuropäische Sommerzeit
    "msk": ("Europe/Moscow",),
    # Africa, South Asia and South America: "CAT" was read as a town in Turkey
    "wat": ("Africa/Lagos",),
    "cat": ("Africa/Maputo",),
    "eat": ("Africa/Nairobi",),
    "pkt": ("Asia/Karachi",),
    "wib": ("Asia/Jakarta",),
    "brt": ("America/Sao_Paulo",),
    "art": ("America/Argentina/Buenos_Aires",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "hkt": ("Asia/Hong_Kong",),
    "sgt": ("Asia/Singapore",),
    "aest": ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane"),
    "aedt": ("Australia/Sydney", "Australia/Melbourne"),
    "acst": ("Australia/Adelaide", "Australia/Darwin"),
    "acdt": ("Australia/Adelaide",),
    "awst": ("Australia/Perth",),
    "nzst": ("Pacific/Auckland",),
    "nzdt": ("Pacific/Auckland",),
    "sast": ("Africa/Johannesburg",),
}
"""Common abbreviations, and the places they may mean."""

SPELLED_OUT: dict[str, str] = {
    # What people type for an abbreviation in ABBREVIATIONS. tzdata's GMT0 is UTC too, with the
    # same summer hour lost in the UK ("GMT+0" and "GMT-0" are read as offsets, to the same end).
    "greenwich mean time": "gmt", "gmt0": "gmt",
    "mitteleuropäische zeit": "mez", "mitteleuropäische sommerzeit": "mesz",
}  # fmt: skip
"""Spelled-out abbreviations -> the abbreviation (asked about as it)."""

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


AMBIGUOUS: dict[str, tuple[str, ...]] = {
    # Names that an old tzdata alias would answer without a question, wrongly for many:
    # Pacific/Samoa is American Samoa (UTC-11), not the country Samoa (UTC+13); Australia/Victoria
    # is the state, not Victoria in British Columbia.
    "samoa": ("Pacific/Apia", "Pacific/Pago_Pago"),
    "victoria": ("Australia/Melbourne", "America/Vancouver"),
}
"""Typed names that are always a question (checked by a test: every zone exists)."""


@dataclass(frozen=True)
class ZoneReading:
    """What a typed time zone means: one zone, or places to choose from, or nothing."""

    zone: str | None = None
    choices: tuple[str, ...] = ()
    fixed_offset: str | None = None
    """A UTC offset was typed ("+5:30"): the choices are the places on it now; summer time
    would not be followed by the offset itself."""
    abbreviation: str | None = None
    place: str | None = None
    """A typed town found in several zones (as typed, e.g. "Springfield"): the choices are
    their zones, the most populous first."""
    region: str | None = None
    """A town typed with a region the bot does not know ("London, Ontario": "Ontario"): the
    choices are the zones of the towns of that name, asked about, never taken."""


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


def read_offset(text: str, now: datetime) -> ZoneReading | None:
    """A typed UTC offset, or None when ``text`` is not one. Signs as phones type them ("UTC−5"
    with a typographic minus), "GMT+1" as "UTC+1", hours and minutes ("+5:30", "+0530", "+5h30")
    or decimals ("+5.5", "UTC+5,5", "+5.75"). Whole hours are kept as the offset, with the places
    on it offered (they follow summer time, the offset does not); half and quarter hours are
    places only; an offset no place has, or none at all, is nothing (an empty reading). GMT+0 is
    the question GMT is."""
    match = _OFFSET.match("".join(text.lower().translate(_SIGNS).split()))
    if match is None:
        return None
    prefix, sign, hours = match.group(1), match.group(2), int(match.group(3))
    minutes = int(match.group(4) or 0)
    if match.group(5):  # decimals: ".5" and ".50" are half an hour, ".30" is 30 minutes
        digits = match.group(5)
        if len(digits) == 1:
            minutes = int(digits) * 6
        elif int(digits) not in (0, 15, 30, 45):
            minutes = int(digits) * 60 // 100 if digits in ("25", "50", "75") else -1
        else:
            minutes = int(digits)
    if hours > 14 or minutes not in (0, 15, 30, 45) or (sign == "-" and hours > 12):
        return ZoneReading()
    total = (hours * 60 + minutes) * (1 if sign == "+" else -1)
    if total == 0 and prefix == "gmt":
        return ZoneReading(choices=ABBREVIATIONS["gmt"], abbreviation="GMT")
    places = zones_at_offset(total, now)[:8]
    if total == 0:
        # Kept as UTC, with the places on it offered: a few of them have summer time.
        return ZoneReading("UTC", choices=places, fixed_offset="UTC+0")
    label = f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
    if minutes:
        return ZoneReading(choices=places, fixed_offset=label)
    # POSIX-style Etc zones have the sign inverted: UTC+2 is Etc/GMT-2.
    fixed = f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return ZoneReading(fixed, choices=places, fixed_offset=label)


def read_zone(text: str, now: datetime) -> ZoneReading:
    """What a typed time zone means: a zone name (any case, spaces for underscores; an alias
    becomes its canonical zone), a city ("Paris", "new york", "München"), an abbreviation (a
    question: "EST" has no summer time, the place has; "GMT" too, the UK's winter time), or a
    UTC offset (see read_offset); failing all those, a town ("Bielefeld", "Gold Coast",
    "Paris, Texas"; see read_place). "UTC" itself is UTC."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 64:
        return ZoneReading()
    lowered = cleaned.lower()
    if lowered in ("utc", "z"):
        return ZoneReading("UTC")
    said = " ".join(lowered.split())
    said = SPELLED_OUT.get(said, said)
    if said in ABBREVIATIONS:
        return ZoneReading(choices=ABBREVIATIONS[said], abbreviation=said.upper())
    offset = read_offset(cleaned, now)
    if offset is not None:
        return offset
    if lowered == "greenwich":
        # tzdata's Greenwich is UTC; the town is in London.
        return read_place(cleaned)
    both = " ".join(lowered.replace("_", " ").split())
    if both in AMBIGUOUS:
        return ZoneReading(choices=AMBIGUOUS[both], place=cleaned)
    name = lowered.replace(" ", "_")
    zone = _by_lower_name().get(name) or _by_city().get(name.replace("_", " "))
    zone = zone or CITY_NAMES.get(" ".join(lowered.replace("_", " ").split()))
    if zone is None:
        return read_place(cleaned)
    # A zone a country has in zone.tab stays as it is (tzdata links some to another country's
    # zone: Europe/Oslo to Europe/Berlin); only other aliases become their canonical zone.
    return ZoneReading(zone if zone in zone_countries() else canonical(zone))


# Towns: a gazetteer of places with 15,000 people or more (content/places.tsv.gz, built from
# GeoNames by tools/build_places.py; docs/scheduling.md). Read only when a typed name is none of
# the above, and kept in memory as the sorted lines of the file, searched by bisection.

PLACES_FILE = "places.tsv.gz"
"""The gazetteer, in the ``content`` package."""

MUCH_LARGER = 10
"""A town this many times larger than its largest namesake in another zone is taken without a
question ("Paris" is not Paris, Texas); otherwise the zones are offered."""

MAX_PLACE_CHOICES = 8

COUNTRY_WORDS: dict[str, str] = {
    # What people call their country beyond tzdata's names and CLDR's (through Babel) in the
    # bot's languages: short forms, parts of a country, old names, umlauts typed as two letters.
    "UK": "GB", "Great Britain": "GB", "Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB", "Großbritannien": "GB", "USA": "US",
    "United States of America": "US", "Oesterreich": "AT", "Suisse": "CH", "Svizzera": "CH",
    "Holland": "NL", "The Netherlands": "NL", "Daenemark": "DK", "Tuerkei": "TR", "Turkey": "TR",
    "Burma": "MM", "Ivory Coast": "CI",
}  # fmt: skip
"""Other names of countries, for "town, country" ("Paris, France", "Graz Österreich")."""

_FOLD = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i",
     "ħ": "h", "&": " and "}
)  # fmt: skip
_SHORT_WORDS = {"st": "saint", "ste": "sainte", "sankt": "saint", "mt": "mount", "ft": "fort"}
_NOT_LETTERS = re.compile(r"[^a-z0-9]+")


def place_key(text: str) -> str:
    """A place name as the gazetteer files it: case, accents, spaces, hyphens, apostrophes and
    dots do not count, and St/Ste/Sankt/Mt/Ft are spelt out ("Saint-Étienne", "st etienne" ->
    "saintetienne"; "München" -> "munchen", which the gazetteer also files as "muenchen" for
    German-speaking countries). Letters of other scripts than Latin are left out."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return "".join(_SHORT_WORDS.get(word, word) for word in _NOT_LETTERS.split(plain) if word)


class Place(NamedTuple):
    zone: str
    """As GeoNames has it (read_place canonicalises it)."""
    country: str
    """ISO 3166 code; a US town has its state too ("US-TX")."""
    population: int
    name: str
    """GeoNames' name of the town ("Frankfurt am Main" for "Frankfurt")."""
    other_name: bool = False
    """Found by another of its names ("Mailand" for Milan), not by its own."""


@dataclass(frozen=True)
class _Gazetteer:
    lines: bytes
    """The file's sorted ``key<TAB>towns<TAB>towns by another name`` lines (the second list may
    be absent), each ending in a newline; a town is ``zone,country,population,name``, towns are
    separated by ``|``."""
    start: int
    """Where the lines begin (after the header)."""
    zones: tuple[str, ...]
    us_states: dict[str, str]


def preload_places() -> None:
    """Load the gazetteer now (at start-up), not on the first typed town."""
    _gazetteer()


@cache
def _gazetteer() -> _Gazetteer:
    try:
        data = gzip.decompress((resources.files("content") / PLACES_FILE).read_bytes())
    except FileNotFoundError:
        log.warning("content/%s is missing: towns are not read as time zones", PLACES_FILE)
        return _Gazetteer(b"", 0, (), {})
    zones: tuple[str, ...] = ()
    us_states: dict[str, str] = {}
    start = 0
    while data.startswith(b"#", start):
        end = data.index(b"\n", start)
        label, *fields = data[start:end].decode("utf-8").split("\t")
        if label == "#zones":
            zones = tuple(fields)
        elif label == "#us-states":
            us_states = {code: name for code, _, name in (f.partition("=") for f in fields)}
        start = end + 1
    return _Gazetteer(data, start, zones, us_states)


def _line(gazetteer: _Gazetteer, key: bytes) -> bytes | None:
    """The line filed under ``key``, by bisection over the lines."""
    lines, low, high = gazetteer.lines, gazetteer.start, len(gazetteer.lines)
    while low < high:
        middle = (low + high) // 2
        begin = lines.rfind(b"\n", low, middle) + 1 or low
        end = lines.index(b"\n", begin)
        tab = lines.index(b"\t", begin, end)
        found = lines[begin:tab]
        if found == key:
            return lines[tab + 1 : end]
        if found < key:
            low = end + 1
        else:
            high = begin
    return None


def places_named(text: str) -> tuple[Place, ...]:
    """The towns a name may mean: those of that name, then those with it as another name, each
    the most populous first (none for a name the gazetteer does not know)."""
    key = place_key(text)
    gazetteer = _gazetteer()
    line = _line(gazetteer, key.encode("ascii")) if key else None
    if line is None:
        return ()
    found = []
    for other_name, towns in enumerate(line.decode("utf-8").split("\t")):
        for town in filter(None, towns.split("|")):
            zone, country, population, name = town.split(",", 3)
            found.append(
                Place(gazetteer.zones[int(zone)], country, int(population), name, bool(other_name))
            )
    return tuple(found)


@cache
def _regions() -> dict[str, frozenset[str]]:
    """What may follow a town's name -> the codes it means: a country (tzdata's name, its code,
    CLDR's names in the bot's languages, COUNTRY_WORDS) or a US state ("Texas", "TX" -> US-TX)."""
    text = (resources.files("tzdata.zoneinfo") / "iso3166.tab").read_text(encoding="utf-8")
    pairs: list[tuple[str, str]] = []
    for line in text.splitlines():
        code, _, name = line.partition("\t")
        if code and not code.startswith("#") and name:
            # "Korea (South)" is also "Korea", "Britain (UK)" also "Britain"
            pairs += [(code, code), (name, code), (name.split(" (")[0], code)]
    for lang in LOCALES:  # "Frankreich", "Tschechien", "South Korea": CLDR's names
        territories = babel_locale(lang).territories
        pairs += [(name, code) for code, name in territories.items() if len(code) == 2]
    pairs += list(COUNTRY_WORDS.items())
    for code, name in _gazetteer().us_states.items():
        pairs += [(code, f"US-{code}"), (name, f"US-{code}")]
    regions: dict[str, set[str]] = {}
    for name, code in pairs:
        regions.setdefault(place_key(name), set()).add(code)
    return {key: frozenset(codes) for key, codes in regions.items()}


def _in_region(text: str) -> tuple[Place, ...]:
    """A town followed by its country or US state: "Paris, France", "paris fr", "Paris, Texas",
    "Portland OR". An unknown region finds nothing (never the town elsewhere)."""
    if "," in text:
        town, _, region = text.rpartition(",")
        splits = [(town, region)]
    else:
        words = text.split()
        splits = [(" ".join(words[:-n]), " ".join(words[-n:])) for n in (1, 2, 3)
                  if n < len(words)]  # fmt: skip
    for town, region in splits:
        codes = _regions().get(place_key(region))
        if codes:
            found = tuple(
                place for place in places_named(town)
                if place.country in codes or place.country.split("-")[0] in codes
            )  # fmt: skip
            if found:
                return found
    return ()


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(_by_lower_name().values())


def read_place(text: str) -> ZoneReading:
    """A typed town ("Leeds", "Bielefeld", "gold coast", "Paris, France"): its zone; the zones to
    choose from (``place`` set) when towns of that name lie in several and none is
    MUCH_LARGER than the others; nothing for a name the gazetteer does not know. A country or
    US state on its own is not read as a town of that name ("Mexico" is not Mexico in the
    Philippines, "Lebanon" not Lebanon, Pennsylvania)."""
    found = () if place_key(text) in _regions() else places_named(text)
    found = found or _in_region(text)
    region = None
    if not found and "," in text:
        town, _, typed_region = text.rpartition(",")
        if place_key(town) in _regions():
            # The region first: "USA, New York", "Florida, Miami".
            found = _in_region(f"{typed_region}, {town}")
        elif place_key(typed_region) not in _regions():
            # "London, Ontario": a town it knows and a region it does not (provinces and
            # states outside the US are not in the gazetteer). Never taken as the largest town
            # of that name (that London is in England): the towns of that name are offered.
            found = places_named(town)
            text, region = town, typed_region.strip()[:40]
    # A town found by another name counts as no larger than the largest town of that very name:
    # offered beside it, never taken over it ("Vienne" in France is not just Vienna).
    cap = max((place.population for place in found if not place.other_name), default=None)
    largest: dict[str, int] = {}
    for place in found:
        # The same rule as read_zone's: a country's own zone stays, other aliases are resolved.
        zone = place.zone if place.zone in zone_countries() else canonical(place.zone)
        weight = min(place.population, cap) if place.other_name and cap else place.population
        if zone in _known_zones() and largest.get(zone, -1) < weight:
            largest[zone] = weight
    ranked = sorted(largest, key=lambda zone: -largest[zone])
    if not ranked:
        return ZoneReading()
    if region is not None:
        choices = tuple(ranked[:MAX_PLACE_CHOICES])
        return ZoneReading(choices=choices, place=text.strip(), region=region)
    if len(ranked) == 1 or largest[ranked[0]] >= MUCH_LARGER * largest[ranked[1]]:
        return ZoneReading(ranked[0])
    return ZoneReading(choices=tuple(ranked[:MAX_PLACE_CHOICES]), place=text.strip())


# Labels: a zone as a place on a phone's button, in the person's language, from CLDR (Babel).

MAX_LABEL = 24
"""Longer "city (country)" labels are the city alone ("Buenos Aires", not "Buenos Aires
(Argentinien)"), where no other zone has a city of that name."""

SHORT_COUNTRIES: dict[str, dict[str, str]] = {
    "en": {"US": "USA", "GB": "UK", "AE": "UAE", "MM": "Myanmar"},
    "de": {"US": "USA", "GB": "Großbritannien", "AE": "VAE"},
}
"""Countries by their short names, where CLDR's are long ("Vereinigte Staaten")."""


def _without_invisibles(text: str) -> str:
    # CLDR writes soft hyphens into some names ("Reyk\xadja\xadvík" in German).
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


@cache
def _place_labels(language: str) -> dict[str, tuple[str, str]]:
    """Every zone with a country -> (its city, its label), in ``language``: labels unique."""
    locale = babel_locale(language)
    short = SHORT_COUNTRIES.get(language, SHORT_COUNTRIES["en"])
    cities = {
        zone: _without_invisibles(get_timezone_location(zone, locale=locale, return_city=True))
        for zone in zone_countries()
    }
    named = Counter(cities.values())
    labels: dict[str, tuple[str, str]] = {}
    for zone, code in zone_countries().items():
        city = cities[zone]
        country = short.get(code) or locale.territories.get(code, code)
        if city in country or country in city:  # "Singapur", "Mexico City", "Kuwait"
            label = city
        else:
            label = f"{city} ({country})"
            if len(label) > MAX_LABEL and named[city] == 1:
                label = city
        labels[zone] = (city, label)
    # Should two labels still be the same (a city named as its country in two zones), both
    # say the country.
    taken = Counter(label for _, label in labels.values())
    for zone, (city, label) in labels.items():
        if taken[label] > 1:
            code = zone_countries()[zone]
            labels[zone] = (city, f"{city} ({locale.territories.get(code, code)})")
    return labels


def place_label(zone: str, language: str, with_country: bool = True) -> str:
    """A zone as a place on a button, in the person's language: "Kalkutta (Indien)", "New York
    (USA)", "London (UK)"; the city alone where the country is the city ("Singapur") or makes
    the label too long. Every zone with a country has a label of its own. ``with_country=False``
    gives the city alone ("Kalkutta", for a short list of well-known places). Aliases are
    labelled as their zone; fixed offsets as what they are ("UTC+1" for Etc/GMT-1)."""
    labels = _place_labels(language)
    found = labels.get(zone) or labels.get(canonical(zone))
    if found is not None:
        return found[1] if with_country else found[0]
    fixed = re.fullmatch(r"Etc/GMT([+-])(\d{1,2})", zone)
    if fixed:  # POSIX signs: Etc/GMT-1 is UTC+1
        return f"UTC{'-' if fixed.group(1) == '+' else '+'}{fixed.group(2)}"
    if canonical(zone) in ("Etc/UTC", "Etc/GMT", "UTC"):
        return "UTC"
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def local_time(zone: str, now: datetime) -> str:
    """``now`` as a wall-clock time in ``zone``, e.g. ``14:05``."""
    return now.astimezone(ZoneInfo(zone)).strftime("%H:%M")
