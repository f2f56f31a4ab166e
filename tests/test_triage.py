"""The triage table: pure and deterministic."""

from __future__ import annotations

import pytest

from bot.checkin import Answers
from bot.triage import RULES, History, Tier, assess, matches_red_phrase, new_red_rules
from content.loader import default_catalog


def answers(**kwargs: object) -> Answers:
    for key in ("where", "feel", "symptoms"):
        if key in kwargs:
            kwargs[key] = frozenset(kwargs[key])  # type: ignore[arg-type]
    return Answers(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ({"pain": 3, "symptoms": {"bladder_bowel"}, "bladder_loss": "yes"}, "red.bladder_loss"),
        ({"pain": 3, "symptoms": {"bladder_bowel"}, "saddle": "yes"}, "red.saddle_numbness"),
        ({"pain": 3, "symptoms": {"numbness"}, "sudden_legs": "yes"}, "red.sudden_leg_weakness"),
        ({"pain": 7, "injury": "yes"}, "red.severe_pain_after_injury"),
        ({"pain": 0, "note_red_flag": True}, "red.note_phrase"),
    ],
)
def test_each_red_flag_gives_red(given: dict, rule: str) -> None:
    result = assess(answers(**given))
    assert result.tier is Tier.RED
    assert rule in result.rule_ids


def test_injury_with_mild_pain_is_not_red() -> None:
    assert assess(answers(pain=3, injury="yes")).tier is Tier.NONE


def test_calm_answers_give_no_tier() -> None:
    given = answers(
        pain=4, where={"lower"}, feel={"aching"}, symptoms={"fatigue"}, sudden_legs="no"
    )
    assert assess(given, History(pains=(4, 5, 3))).tier is Tier.NONE


def test_pain_two_points_above_the_recent_mean_is_amber() -> None:
    history = History(pains=(3, 3, 4, 2))  # mean 3
    assert "amber.pain_above_baseline" in assess(answers(pain=5), history).rule_ids
    assert assess(answers(pain=4), history).tier is Tier.NONE


def test_without_history_nothing_is_new_or_above_baseline() -> None:
    assert assess(answers(pain=9, symptoms={"balance"})).tier is Tier.NONE


def test_a_new_neurological_symptom_is_amber_but_a_known_one_is_not() -> None:
    history = History(pains=(3,), symptoms=(frozenset({"balance"}),))
    assert (
        "amber.new_neuro_symptom"
        in assess(answers(pain=3, symptoms={"numbness"}), history).rule_ids
    )
    assert assess(answers(pain=3, symptoms={"balance"}), history).tier is Tier.NONE
    # Fatigue is not neurological in this rule.
    assert assess(answers(pain=3, symptoms={"fatigue"}), history).tier is Tier.NONE


def test_not_sure_on_a_warning_question_is_amber() -> None:
    given = answers(pain=2, symptoms={"bladder_bowel"}, bladder_loss="unsure")
    assert assess(given).rule_ids == ("amber.unsure_red_flag",)


def test_red_outranks_amber_and_all_fired_rules_are_listed() -> None:
    given = answers(pain=8, injury="yes", symptoms={"bladder_bowel"}, bladder_loss="unsure")
    result = assess(given, History(pains=(2,)))
    assert result.tier is Tier.RED
    assert set(result.rule_ids) == {
        "red.severe_pain_after_injury",
        "amber.pain_above_baseline",
        "amber.unsure_red_flag",
    }


def test_same_answers_always_give_the_same_result() -> None:
    given = answers(pain=8, injury="yes", symptoms={"numbness"}, sudden_legs="yes")
    assert len({assess(given).rule_ids for _ in range(20)}) == 1


def test_a_red_rule_is_escalated_once_per_checkin() -> None:
    given = answers(pain=3, symptoms={"bladder_bowel"}, bladder_loss="yes")
    assert [r.id for r in new_red_rules(given, [])] == ["red.bladder_loss"]
    assert new_red_rules(given, ["red.bladder_loss"]) == ()


def test_every_rule_names_a_message_and_a_source_that_exist() -> None:
    catalog = default_catalog()
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert catalog.has_text(rule.message_id), rule.id
        assert rule.source in catalog.sources, rule.id


@pytest.mark.parametrize(
    "note",
    [
        "I CAN'T PEE since last night",
        "woke up and had wet myself",
        "my legs gave way on the stairs",
        "fell down the stairs this morning",
        "cannot  feel my legs!",
    ],
)
def test_red_flag_phrases_are_found(note: str) -> None:
    assert matches_red_phrase(note, default_catalog().phrases_for("en"))


@pytest.mark.parametrize(
    "note", ["", "tired but ok", "I can peel potatoes again", "legs heavy after a long walk"]
)
def test_ordinary_notes_are_not_red(note: str) -> None:
    assert not matches_red_phrase(note, default_catalog().phrases_for("en"))
