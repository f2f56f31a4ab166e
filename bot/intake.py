"""The door before parsing. With long polling, Telegram hands the bot up to 100 updates per
getUpdates call as one JSON array, and python-telegram-bot turns every one of them into an
``Update`` before any handler (or the per-person limits of handlers/ordering.py and
bot/flood.py) can look at it. During a flood that parsing is most of the flood's cost, and it
runs on the event loop everyone shares. So the raw array is read first: a person who has sent
more than twice the flood limit (FLOOD_MAX_UPDATES per FLOOD_WINDOW_SECONDS) within the window
has their further updates dropped while they are still JSON, at a cost of a dictionary lookup.

Below twice the limit nothing changes: the handlers' own limit (bot/flood.py) still drops the
updates beyond FLOOD_MAX_UPDATES and tells the person once. python-telegram-bot confirms an array
to Telegram by the id of the last update it parsed, so a dropped last update is kept as its bare
id: parsed in no time, an update of nobody that the gate (handlers/common.py) drops at once.
Without it Telegram would send the array again. A channel post counts under its channel's chat;
an update with neither a sender nor a chat passes through to the gate.

Only long polling has such an array; a webhook request carries one update, and Telegram limits
how many it sends at once (``max_connections``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from bot.flood import FloodGuard, Verdict

HEADROOM = 2
"""The door lets a person through up to this many times the handlers' flood limit."""


def sender_of(raw: Mapping[str, Any]) -> int | None:
    """The person behind a raw update, as ``person_of`` (handlers/ordering.py) finds it on a
    parsed one: the user it is from, else its chat; None when there is neither."""
    for key, value in raw.items():
        if key == "update_id" or not isinstance(value, Mapping):
            continue
        for field in ("from", "user"):
            who = value.get(field)
            if isinstance(who, Mapping):
                ident = who.get("id")
                if isinstance(ident, int) and not isinstance(ident, bool):
                    return ident
        chat = value.get("chat")
        if isinstance(chat, Mapping):
            ident = chat.get("id")
            if isinstance(ident, int) and not isinstance(ident, bool):
                return ident
        return None
    return None


class Intake:
    """Drops a flooding person's raw updates from each getUpdates array (see the module)."""

    def __init__(
        self,
        flood_max_updates: int,
        window_seconds: float,
        now: Callable[[], float] = time.monotonic,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        self.guard = FloodGuard(HEADROOM * flood_max_updates, window_seconds, now)
        self.dropped = 0
        self.on_drop = on_drop
        """Told how many updates each array lost (the dropped-updates metric)."""

    def admit(self, updates: list[Any]) -> list[Any]:
        """The updates of one getUpdates array worth parsing, in their order."""
        if self.guard.max_updates <= 0 or not updates:
            return updates
        kept: list[Any] = []
        dropped = 0
        for raw in updates:
            person = sender_of(raw) if isinstance(raw, Mapping) else None
            if person is None or self.guard.check(person) is Verdict.ALLOW:
                kept.append(raw)
            else:
                dropped += 1
        if dropped and (not kept or kept[-1] is not updates[-1]):
            # The array's last update confirms it (the Updater's next offset); dropped, it is
            # kept as its bare id: parsed in no time, an update of nobody the gate drops.
            kept.append({"update_id": updates[-1]["update_id"]})
        if dropped:
            self.dropped += dropped
            if self.on_drop is not None:
                self.on_drop(dropped)
        return kept


def is_update_array(result: object) -> TypeGuard[list[Any]]:
    """Whether a Bot API result is getUpdates' array of updates."""
    return (
        isinstance(result, list)
        and bool(result)
        and isinstance(result[-1], dict)
        and "update_id" in result[-1]
    )
