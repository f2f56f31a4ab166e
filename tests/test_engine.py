"""The check-in engine, without Telegram or a database."""

from __future__ import annotations

import pytest

from bot.checkin import BACK, DONE, FINISHED, Engine, Outcome, Step, new_state, next_step
from content.loader import default_catalog


@pytest.fixture
def engine() -> Engine:
    return Engine(default_catalog().questionnaire)


def run(engine: Engine, *taps: str) -> tuple[dict, str]:
    state, step = new_state(), Step.PAIN.value
    for option in taps:
        move = engine.apply(state, Step(step), option)
        state, step = move.state, move.step
    return state, step


def test_pain_zero_goes_straight_to_symptoms(engine: Engine) -> None:
    assert run(engine, "0")[1] == "symptoms"


def test_severe_pain_asks_about_injury_first(engine: Engine) -> None:
    assert run(engine, "7")[1] == "injury"
    assert run(engine, "6")[1] == "where"


def test_follow_ups_only_when_relevant(engine: Engine) -> None:
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "fatigue", DONE)
    assert step == FINISHED
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "bladder_bowel", DONE)
    assert step == "bladder_loss"
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "bladder_bowel", DONE, "no")
    assert step == "saddle"
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "numbness", DONE)
    assert step == "sudden_legs"


def test_multi_select_toggles_and_keeps_content_order(engine: Engine) -> None:
    state, step = run(engine, "5", "legs", "lower", "upper", "upper", DONE)
    assert step == "feel"
    assert state["answers"]["where"] == ["lower", "legs"]


def test_done_with_nothing_ticked_is_refused(engine: Engine) -> None:
    state, _ = run(engine, "5")
    move = engine.apply(state, Step.WHERE, DONE)
    assert move.outcome is Outcome.NEED_ONE and move.step == "where"


def test_back_reopens_the_previous_step_with_its_ticks(engine: Engine) -> None:
    state, _ = run(engine, "5", "lower", "legs", DONE)
    move = engine.apply(state, Step.FEEL, BACK)
    assert move.outcome is Outcome.BACK and move.step == "where"
    assert move.state["draft"] == ["lower", "legs"]
    assert "where" not in move.state["answers"]


def test_back_on_the_first_question_does_nothing(engine: Engine) -> None:
    move = engine.apply(new_state(), Step.PAIN, BACK)
    assert move.outcome is Outcome.AT_START and move.step == "pain"


def test_changing_the_pain_score_after_back_changes_the_path(engine: Engine) -> None:
    state, step = run(engine, "8")
    assert step == "injury"
    move = engine.apply(state, Step.INJURY, BACK)
    move = engine.apply(move.state, Step.PAIN, "2")
    assert move.step == "where"
    assert move.state["answers"] == {"pain": 2}


@pytest.mark.parametrize(
    ("step", "option"),
    [
        (Step.PAIN, "11"),
        (Step.PAIN, "-1"),
        (Step.PAIN, "x"),
        (Step.WHERE, "knee"),
        (Step.INJURY, "maybe"),
    ],
)
def test_options_not_on_the_step_are_invalid(engine: Engine, step: Step, option: str) -> None:
    move = engine.apply(new_state(), step, option)
    assert move.outcome is Outcome.INVALID and not move.changed


def test_apply_does_not_change_the_given_state(engine: Engine) -> None:
    state, _ = run(engine, "5")
    snapshot = repr(state)
    engine.apply(state, Step.WHERE, "lower")
    assert repr(state) == snapshot


def test_next_step_starts_at_pain() -> None:
    assert next_step(new_state(), None) is Step.PAIN
