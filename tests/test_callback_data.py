"""Callback data: short, round-trips, and refuses anything malformed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.timezones import QUICK_ZONES
from content.loader import default_catalog
from handlers.callback_data import (
    MAX_BYTES,
    CheckinTap,
    ConsentTap,
    NoteTap,
    ResumeTap,
    ZoneTap,
    decode,
    encode,
)

BIGGEST_ID = 10**18 - 1


def all_taps() -> list[object]:
    taps: list[object] = [ConsentTap(True), ConsentTap(False), ZoneTap(None)]
    taps += [ZoneTap(z) for z in QUICK_ZONES]
    for step, spec in default_catalog().questionnaire.steps.items():
        options = list(spec.options) or [str(n) for n in range(spec.min, spec.max + 1)]
        for option in [*options, "<", ">", "x", *([spec.none_option] if spec.none_option else [])]:
            taps.append(CheckinTap(BIGGEST_ID, step, option))
    taps += [ResumeTap(BIGGEST_ID, True), NoteTap(BIGGEST_ID, False), NoteTap(1, True)]
    return taps


@pytest.mark.parametrize("tap", all_taps(), ids=repr)
def test_every_button_fits_and_round_trips(tap: object) -> None:
    data = encode(tap)  # type: ignore[arg-type]
    assert 1 <= len(data.encode()) <= MAX_BYTES
    assert decode(data) == tap


@given(st.text(max_size=80))
def test_decoding_anything_never_raises(data: str) -> None:
    result = decode(data)
    if result is not None:
        assert encode(result) == data


@pytest.mark.parametrize(
    "data", [None, "", "c:0:pain:3", "c:-1:pain:3", "c:1:PAIN:3", "r:1:maybe", "tz:Mars/Base"]
)
def test_malformed_data_decodes_to_nothing(data: str | None) -> None:
    assert decode(data) is None
