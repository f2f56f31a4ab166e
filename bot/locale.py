"""Dates, numbers and plurals as each language writes them (Babel, from CLDR data shipped with
it: nothing is fetched at run time). English is written the British way ("Mon 2 Mar")."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_skeleton
from babel.numbers import format_decimal

from content.loader import babel_locale as _locale
from content.loader import plural_form

__all__ = ["day", "day_and_time", "number", "plural_form"]


def day(value: date | datetime, lang: str) -> str:
    """A day as people write it: "Mon 2 Mar", "Mo., 2. März"."""
    return format_skeleton("MMMEd", value, locale=_locale(lang))


def day_and_time(value: datetime, lang: str) -> str:
    """A local instant: "Mon 2 Mar, 10:00", "Mo., 2. März, 10:00"."""
    return f"{day(value, lang)}, {value:%H:%M}"


def number(value: float, lang: str, decimals: int = 1) -> str:
    """A figure with a fixed number of decimals: "4.1", "4,1"."""
    pattern = "0." + "0" * decimals if decimals else "0"
    return format_decimal(round(value, decimals), format=pattern, locale=_locale(lang))
