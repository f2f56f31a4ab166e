"""A hypothesis state machine drives three people through the real Application (SQLite file,
Bot API stand-in over HTTP): current, stale and forged taps, updates delivered twice, odd text
and commands. After every step the database invariants hold, no error reached the error handler,
and nobody was told "something went wrong"."""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from bot.config import Settings
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.conftest import TOKEN
from tests.fuzz import ErrorCounter, Fuzzer, invariants
from tests.harness import START, Harness, ManualClock, Person

PEOPLE = [Person(8101, "Ann"), Person(8202, "Ben"), Person(8303, "Cy")]
who = st.integers(0, len(PEOPLE) - 1)
index = st.integers(0, 999)


def machine(template: Path, folder: Path) -> type[RuleBasedStateMachine]:
    class BotMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            path = folder / f"sm-{random.getrandbits(32):08x}.db"
            shutil.copy(template, path)
            self.api = BotApiStandIn(TOKEN)
            self.run(self.api.start())
            config = Settings(
                telegram_bot_token=TOKEN,
                telegram_base_url=self.api.base_url,
                telegram_base_file_url=self.api.base_file_url,
                database_url=f"sqlite+aiosqlite:///{path}",
                flood_max_updates=0,
            )
            self.app = build_application(config, clock=ManualClock(START), rate_limit=False)
            self.run(self.app.initialize())
            self.bot = Harness(self.api, self.app, self.app.bot_data["services"].clock)
            self.errors = ErrorCounter()
            logging.getLogger().addHandler(self.errors)
            self.fuzz = Fuzzer(self.bot, PEOPLE, random.Random(0))
            self.run(self.fuzz.onboard())

        def run(self, coroutine: Any) -> Any:
            return self.loop.run_until_complete(coroutine)

        @rule(person=who, i=index)
        def tap_the_current_question(self, person: int, i: int) -> None:
            self.run(self.fuzz.tap_current(PEOPLE[person], i))

        @rule(person=who, i=index)
        def tap_an_old_button(self, person: int, i: int) -> None:
            self.run(self.fuzz.tap_stale(PEOPLE[person], i))

        @rule(person=who, i=index)
        def tap_forged_data(self, person: int, i: int) -> None:
            self.run(self.fuzz.forge(PEOPLE[person], i))

        @rule(i=index)
        def deliver_an_update_again(self, i: int) -> None:
            self.run(self.fuzz.repeat(i))

        @rule(person=who, i=index)
        def type_something(self, person: int, i: int) -> None:
            self.run(self.fuzz.text(PEOPLE[person], i))

        @rule(person=who, i=index)
        def send_a_command(self, person: int, i: int) -> None:
            self.run(self.fuzz.command(PEOPLE[person], i))

        @invariant()
        def the_database_holds_together(self) -> None:
            assert self.run(invariants(self.bot)) == []

        @invariant()
        def nothing_failed(self) -> None:
            assert self.errors.count == 0
            assert self.fuzz.sorry_count() == 0

        def teardown(self) -> None:
            logging.getLogger().removeHandler(self.errors)
            self.run(self.app.shutdown())
            self.run(self.app.bot_data["services"].db_engine.dispose())
            self.run(self.api.stop())
            self.loop.close()

    return BotMachine


def test_people_doing_odd_things_never_break_the_invariants(
    sqlite_template: Path, tmp_path: Path
) -> None:
    run_state_machine_as_test(
        machine(sqlite_template, tmp_path),
        settings=settings(
            max_examples=6,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
