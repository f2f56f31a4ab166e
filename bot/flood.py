"""Fairness under floods: a person who sends far more updates than anyone could type or tap is
limited, so their flood costs almost nothing and nobody else waits behind it. In memory, per
process, bounded: the oldest people are forgotten first, so memory stays flat whatever the flood.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    DROP_AND_TELL = "drop_and_tell"
    """The first update over the limit: dropped, and the person is told once."""
    DROP = "drop"


@dataclass
class _Window:
    times: deque[float]
    told: bool = False


class FloodGuard:
    def __init__(
        self,
        max_updates: int,
        window_seconds: float,
        now: Callable[[], float],
        max_people: int = 10_000,
    ) -> None:
        self.max_updates = max_updates
        self.window = window_seconds
        self.now = now
        self.max_people = max_people
        self._people: OrderedDict[int, _Window] = OrderedDict()

    def check(self, person: int) -> Verdict:
        """Whether this person's next update is processed (0 turns the guard off)."""
        if self.max_updates <= 0:
            return Verdict.ALLOW
        now = self.now()
        entry = self._people.pop(person, None) or _Window(deque())
        self._people[person] = entry  # most recent last
        while len(self._people) > self.max_people:
            self._people.popitem(last=False)
        while entry.times and entry.times[0] <= now - self.window:
            entry.times.popleft()
        if len(entry.times) < self.max_updates:
            entry.times.append(now)
            entry.told = False
            return Verdict.ALLOW
        if entry.told:
            return Verdict.DROP
        entry.told = True
        return Verdict.DROP_AND_TELL

    def __len__(self) -> int:
        return len(self._people)
