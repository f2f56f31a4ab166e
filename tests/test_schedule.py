"""Next due instants: time zones, DST both ways, far-off offsets, weekdays, several times a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.schedule import (
    ALL_DAYS,
    WORKDAYS,
    Rule,
    end_of_local_day,
    next_due,
    parse_time,
    resolve,
)


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


def occurrences(rule: Rule, start: datetime, count: int) -> list[datetime]:
    result, after = [], start
    for _ in range(count):
        after = next_due(rule, after)
        result.append(after)
    return result


def test_berlin_spring_forward_moves_a_missing_time_to_the_change() -> None:
    rule = Rule((time(2, 30),), ALL_DAYS, "Europe/Berlin")
    days = occurrences(rule, datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    # 02:30 does not exist on 29 March; the clocks jump from 02:00 to 03:00.
    assert local(days[0], "Europe/Berlin").replace(tzinfo=None) == datetime(2026, 3, 29, 3, 0)
    assert local(days[1], "Europe/Berlin").replace(tzinfo=None) == datetime(2026, 3, 30, 2, 30)


def test_berlin_fall_back_fires_once_at_the_first_of_two() -> None:
    rule = Rule((time(2, 30),), ALL_DAYS, "Europe/Berlin")
    days = occurrences(rule, datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert days[0] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first
    assert local(days[1], "Europe/Berlin").date() == date(2026, 10, 26)


def test_new_york_spring_forward_and_fall_back() -> None:
    spring_rule = Rule((time(2, 15), time(9, 0)), ALL_DAYS, "America/New_York")
    spring = occurrences(spring_rule, datetime(2026, 3, 8, 0, tzinfo=UTC), 2)
    assert [local(d, "America/New_York").strftime("%d %H:%M") for d in spring] == [
        "08 03:00",
        "08 09:00",
    ]
    # On 1 November 01:00-02:00 happens twice; 01:30 fires once, in daylight time (the first).
    fall_rule = Rule((time(1, 30), time(9, 0)), ALL_DAYS, "America/New_York")
    fall = occurrences(fall_rule, datetime(2026, 11, 1, 0, tzinfo=UTC), 3)
    assert fall[0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert [local(d, "America/New_York").strftime("%d %H:%M") for d in fall] == [
        "01 01:30",
        "01 09:00",
        "02 01:30",
    ]


def test_same_local_time_across_dst_keeps_the_wall_clock() -> None:
    rule = Rule((time(9, 0),), ALL_DAYS, "Europe/Berlin")
    days = occurrences(rule, datetime(2026, 3, 27, 12, tzinfo=UTC), 4)
    assert [d.hour for d in days] == [8, 7, 7, 7]  # 09:00 CET, then 09:00 CEST
    assert {local(d, "Europe/Berlin").time() for d in days} == {time(9, 0)}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_far_offsets_get_the_right_local_day(zone: str) -> None:
    rule = Rule((time(8, 0),), frozenset({0}), zone)  # Mondays only
    due = next_due(rule, datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert local(due, zone).weekday() == 0 and local(due, zone).time() == time(8, 0)
    offset = local(due, zone).utcoffset()
    assert offset == (timedelta(hours=14) if zone.endswith("Kiritimati") else timedelta(hours=-11))


def test_weekday_rule_across_a_week() -> None:
    rule = Rule((time(18, 0),), WORKDAYS, "Europe/London")
    week = occurrences(rule, datetime(2026, 6, 6, 0, tzinfo=UTC), 5)  # from Saturday
    assert [local(d, "Europe/London").strftime("%a") for d in week] == [
        "Mon", "Tue", "Wed", "Thu", "Fri",
    ]  # fmt: skip
    assert next_due(rule, week[-1]) - week[-1] == timedelta(days=3)


def test_several_times_a_day_in_order() -> None:
    rule = Rule((time(20, 0), time(9, 0), time(13, 0)), ALL_DAYS, "Asia/Kolkata")
    day = occurrences(rule, datetime(2026, 1, 1, 0, tzinfo=UTC), 4)
    assert [local(d, "Asia/Kolkata").strftime("%H:%M") for d in day] == [
        "09:00", "13:00", "20:00", "09:00",
    ]  # fmt: skip


def test_a_pause_skips_to_its_end_date() -> None:
    rule = Rule((time(9, 0),), ALL_DAYS, "Europe/Berlin", paused_until=date(2026, 3, 10))
    due = next_due(rule, datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert local(due, "Europe/Berlin").date() == date(2026, 3, 10)


def test_end_of_local_day() -> None:
    end = end_of_local_day(datetime(2026, 3, 2, 22, 30, tzinfo=UTC), "Europe/Berlin")
    assert local(end, "Europe/Berlin").date() == date(2026, 3, 2)  # 23:30 local, same day
    assert end + timedelta(microseconds=1) == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8pm", time(20, 0)),
        ("8:30 am", time(8, 30)),
        ("18:30", time(18, 30)),
        ("7.15", time(7, 15)),
        ("21h", time(21, 0)),
        ("12am", time(0, 0)),
        ("12 pm", time(12, 0)),
    ],
)
def test_typed_times(typed: str, expected: time) -> None:
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["8", "25:00", "13pm", "noonish", "", "9:7"])
def test_unreadable_times(typed: str) -> None:
    assert parse_time(typed) is None


ZONES = ["Europe/Berlin", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago",
         "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago", "UTC"]  # fmt: skip


def _exists(day: date, at: time, zone: str) -> bool:
    naive = datetime.combine(day, at)
    instant = naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None) == naive


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    times=st.lists(
        st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    after=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
)
def test_next_due_properties(
    zone: str, times: list[time], weekdays: frozenset[int], after: datetime
) -> None:
    rule = Rule(tuple(times), weekdays, zone)
    due = next_due(rule, after)
    assert due > after
    wall = local(due, zone)
    assert wall.weekday() in weekdays
    if wall.time() not in times:
        # Only the documented shift: a chosen time that did not exist that day moved forward to
        # the instant the clocks changed.
        missing = [t for t in times if not _exists(wall.date(), t, zone)]
        assert missing and resolve(wall.date(), missing[0], ZoneInfo(zone)) == due
    # Nothing chosen was skipped between ``after`` and ``due``.
    for offset in (-1, 0, 1):
        day = local(after, zone).date() + timedelta(days=offset)
        if day.weekday() in weekdays:
            for at in times:
                candidate = resolve(day, at, ZoneInfo(zone))
                assert not after < candidate < due
