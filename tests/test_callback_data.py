"""Callback data: short, round-trips, and refuses anything malformed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.findings import Code, encode_codes
from bot.timezones import QUICK_ZONES
from content.loader import default_catalog
from handlers.callback_data import (
    MAX_BYTES,
    CheckinTap,
    ConsentTap,
    ExportTap,
    FindingTap,
    NoteTap,
    ProfileTap,
    ResumeTap,
    ZoneTap,
    decode,
    encode,
)
from handlers.views import PROFILE_ORDER

BIGGEST_ID = 10**9 - 1
"""The largest row id a button carries: below 2^31, the range of the integer id columns."""


def all_taps() -> list[object]:
    taps: list[object] = [ConsentTap(True), ConsentTap(False), ZoneTap(None)]
    taps += [ZoneTap(z) for z in QUICK_ZONES]
    for step, spec in default_catalog().questionnaire.steps.items():
        options = list(spec.options) or [str(n) for n in range(spec.min, spec.max + 1)]
        for option in [*options, "<", ">", "x", *([spec.none_option] if spec.none_option else [])]:
            taps.append(CheckinTap(BIGGEST_ID, step, option))
    taps += [ResumeTap(BIGGEST_ID, True), NoteTap(BIGGEST_ID, False), NoteTap(1, True)]
    taps += [NoteTap(BIGGEST_ID, False, True, "0123abcd"), NoteTap(1, False, True)]
    # "Is this new?" about typed warning signs: one sign, and every sign at once.
    for codes in (frozenset({Code.SADDLE}), frozenset(Code)):
        for checkin_id in (None, BIGGEST_ID):
            for is_new in (True, False):
                taps.append(FindingTap(encode_codes(codes), is_new, checkin_id))
    taps += [ProfileTap(field, answer) for field in PROFILE_ORDER for answer in ("y", "n", "u")]
    taps += [ExportTap(f, p) for f in ("csv", "pdf", "fhir") for p in (None, "30", "90", "all")]
    taps += [ExportTap("csv", "allx")]
    taps += [ExportTap(f, p, BIGGEST_ID) for f in ("csv", "pdf", "fhir") for p in (None, "all")]
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
    "data",
    [
        None, "", "c:0:pain:3", "c:-1:pain:3", "c:1:PAIN:3", "r:1:maybe", "tz:Mars/Base",
        "f:bb:maybe", "f:b:y", "f:bb:y:0", "f::y", "f:" + ".".join(["bb"] * 12) + ":y",
        "p:imm:maybe", "p:age:y", "p:imm",
    ],
)  # fmt: skip
def test_malformed_data_decodes_to_nothing(data: str | None) -> None:
    assert decode(data) is None


def test_ids_beyond_the_database_range_are_refused_before_any_query() -> None:
    assert decode(f"c:{BIGGEST_ID + 1}:pain:5") is None
    assert decode(f"h:{2**32}:7") is None
    assert decode(f"m:{2**31}:go") is None
