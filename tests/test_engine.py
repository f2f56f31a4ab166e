"""The check-in engine, without Telegram or a database."""

from __future__ import annotations

import pytest

from bot.checkin import (
    BACK,
    DONE,
    FINISHED,
    Answers,
    CheckinState,
    Engine,
    Outcome,
    Step,
    new_state,
    next_step,
)
from bot.findings import Code
from content.loader import default_catalog


@pytest.fixture
def engine() -> Engine:
    return Engine(default_catalog().questionnaire)


def run(engine: Engine, *taps: str) -> tuple[CheckinState, str]:
    state, step = new_state(), Step.PAIN.value
    for option in taps:
        move = engine.apply(state, Step(step), option)
        state, step = move.state, move.step
    return state, step


def test_pain_zero_skips_where_and_feel(engine: Engine) -> None:
    assert run(engine, "0")[1] == "symptoms"


def test_the_warning_screen_is_asked_at_every_pain_level_without_gating(engine: Engine) -> None:
    # No earlier answer is needed to reach it: not a bladder tick, not a high score.
    assert run(engine, "0", "none")[1] == "warning"
    assert run(engine, "3", "lower", DONE, "aching", DONE, "fatigue", DONE)[1] == "warning"
    assert run(engine, "9", "lower", DONE, "aching", DONE, "none")[1] == "warning"


def test_a_calm_check_in_ends_after_the_warning_screen(engine: Engine) -> None:
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "fatigue", DONE, "none")
    assert step == FINISHED


def test_chest_is_asked_only_when_ticked(engine: Engine) -> None:
    _, step = run(engine, "2", "middle", DONE, "band", DONE, "none", "chest", DONE)
    assert step == "chest"
    state, step = run(engine, "2", "middle", DONE, "band", DONE, "none", "chest", DONE, "band")
    assert step == FINISHED
    assert Code.CHEST not in Answers.from_state(state).reported  # the familiar MS band
    state, _ = run(engine, "2", "middle", DONE, "band", DONE, "none", "chest", DONE, "other")
    assert Code.CHEST in Answers.from_state(state).reported


def test_relapse_question_follows_a_neurological_symptom(engine: Engine) -> None:
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "numbness", DONE, "none")
    assert step == "relapse"
    _, step = run(engine, "3", "lower", DONE, "aching", DONE, "mood", DONE, "none")
    assert step == FINISHED


def test_relapse_question_is_skipped_once_urgent_advice_was_given(engine: Engine) -> None:
    state, _ = run(engine, "3", "lower", DONE, "aching", DONE, "numbness", DONE)
    state.escalated = "urgent"
    assert next_step(state, Step.WARNING) is None


def test_multi_select_toggles_and_keeps_content_order(engine: Engine) -> None:
    state, step = run(engine, "5", "legs", "lower", "upper", "upper", DONE)
    assert step == "feel"
    assert state.answers["where"] == ["lower", "legs"]


def test_done_with_nothing_ticked_is_refused(engine: Engine) -> None:
    state, _ = run(engine, "5")
    move = engine.apply(state, Step.WHERE, DONE)
    assert move.outcome is Outcome.NEED_ONE and move.step == "where"


def test_back_reopens_the_previous_step_with_its_ticks(engine: Engine) -> None:
    state, _ = run(engine, "5", "lower", "legs", DONE)
    move = engine.apply(state, Step.FEEL, BACK)
    assert move.outcome is Outcome.BACK and move.step == "where"
    assert move.state.draft == ["lower", "legs"]
    assert "where" not in move.state.answers


def test_back_on_the_first_question_does_nothing(engine: Engine) -> None:
    move = engine.apply(new_state(), Step.PAIN, BACK)
    assert move.outcome is Outcome.AT_START and move.step == "pain"


def test_changing_the_pain_score_after_back_changes_the_path(engine: Engine) -> None:
    state, step = run(engine, "8")
    assert step == "where"
    move = engine.apply(state, Step.WHERE, BACK)
    move = engine.apply(move.state, Step.PAIN, "0")
    assert move.step == "symptoms"
    assert move.state.answers == {"pain": 0}


@pytest.mark.parametrize(
    ("step", "option"),
    [
        (Step.PAIN, "11"),
        (Step.PAIN, "-1"),
        (Step.PAIN, "x"),
        (Step.WHERE, "knee"),
        (Step.WARNING, "headache"),
        (Step.CHEST, "maybe"),
        (Step.RELAPSE, "perhaps"),
    ],
)
def test_options_not_on_the_step_are_invalid(engine: Engine, step: Step, option: str) -> None:
    move = engine.apply(new_state(), step, option)
    assert move.outcome is Outcome.INVALID


def test_apply_does_not_change_the_given_state(engine: Engine) -> None:
    state, _ = run(engine, "5")
    snapshot = repr(state)
    engine.apply(state, Step.WHERE, "lower")
    assert repr(state) == snapshot


def test_state_survives_the_json_round_trip(engine: Engine) -> None:
    state, _ = run(engine, "5", "lower", DONE, "aching")
    state.text_findings = ["fever"]
    state.escalated = "urgent"
    assert CheckinState.from_json(state.to_json()) == state


def test_next_step_starts_at_pain() -> None:
    assert next_step(new_state(), None) is Step.PAIN


def test_the_warning_screen_offers_every_finding(engine: Engine) -> None:
    assert set(engine.options(Step.WARNING)) == {c.value for c in Code}
