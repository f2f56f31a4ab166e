"""Dates, numbers and plurals as each language writes them (Babel, from CLDR data shipped with
it: nothing is fetched at run time). English is written the British way ("Mon 2 Mar")."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_skeleton
from babel.numbers import format_decimal

from content.loader import babel_locale as _locale
from content.loader import plural_form

__all__ = [
    "coming_day",
    "day",
    "day_and_time",
    "day_month",
    "full_date",
    "full_date_and_time",
    "number",
    "plain_number",
    "plural_form",
]


def day(value: date | datetime, lang: str, *, year: bool = False) -> str:
    """A day as people write it: "Mon 2 Mar", "Mo., 2. März"; with its year,
    "Tue, 9 Mar 2027", "Di., 9. März 2027"."""
    return format_skeleton("yMMMEd" if year else "MMMEd", value, locale=_locale(lang))


def day_month(value: date | datetime, lang: str) -> str:
    """A day without the weekday, for a chart's axis: "2 Mar", "2. März"."""
    return format_skeleton("MMMd", value, locale=_locale(lang))


def coming_day(value: date, lang: str, today: date) -> str:
    """A day ahead (a pause's end): the year only when it is not this year."""
    return day(value, lang, year=value.year != today.year)


def day_and_time(value: datetime, lang: str) -> str:
    """A local instant: "Mon 2 Mar, 10:00", "Mo., 2. März, 10:00"."""
    return f"{day(value, lang)}, {value:%H:%M}"


def full_date(value: date | datetime, lang: str) -> str:
    """A date for a document kept for years (the PDF report): "2 Mar 2026", "2. März 2026"."""
    return format_skeleton("yMMMd", value, locale=_locale(lang))


def full_date_and_time(value: datetime, lang: str) -> str:
    """A local instant in a document: "2 Mar 2026, 10:00", "2. März 2026, 10:00"."""
    return f"{full_date(value, lang)}, {value:%H:%M}"


def number(value: float, lang: str, decimals: int = 1) -> str:
    """A figure with a fixed number of decimals: "4.1", "4,1"."""
    pattern = "0." + "0" * decimals if decimals else "0"
    return format_decimal(round(value, decimals), format=pattern, locale=_locale(lang))


def plain_number(value: float, lang: str, max_decimals: int = 2) -> str:
    """A figure with only the decimals it needs: "3", "1.5" in English, "3", "1,5" in German."""
    pattern = "0." + "#" * max_decimals if max_decimals else "0"
    return format_decimal(round(value, max_decimals), format=pattern, locale=_locale(lang))
