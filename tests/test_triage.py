"""The triage table: pure and deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.checkin import Answers
from bot.triage import RULES, History, Past, Tier, assess, matches_red_phrase, new_red_rules
from content.loader import default_catalog

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def history(*pains: int, symptoms: tuple[frozenset[str], ...] = (), hours: float = 24) -> History:
    """Earlier check-ins, newest first, ``hours`` apart, ending ``hours`` before NOW."""
    return History(
        now=NOW,
        past=tuple(
            Past(
                at=NOW - timedelta(hours=hours * (i + 1)),
                pain=pain,
                symptoms=symptoms[i] if i < len(symptoms) else frozenset(),
            )
            for i, pain in enumerate(pains)
        ),
    )


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
    assert assess(given, history(4, 5, 3)).tier is Tier.NONE


def test_worsening_two_check_ins_in_a_row_two_points_above_the_median() -> None:
    stable = history(7, 7, 6, 7, 7)  # median 7
    assert assess(answers(pain=9), stable).tier is Tier.NONE  # 9 is +2 but under +30%, once
    two_in_a_row = history(9, 7, 6, 7, 7)  # median 7; yesterday was 9 too
    assert "amber.worsening" in assess(answers(pain=9), two_in_a_row).rule_ids


def test_worsening_on_one_check_in_30_percent_and_two_points_above() -> None:
    usual = history(3, 3, 4, 2)  # median 3
    assert "amber.worsening" in assess(answers(pain=5), usual).rule_ids
    assert assess(answers(pain=4), usual).tier is Tier.NONE


def test_worsening_ignores_check_ins_older_than_14_days() -> None:
    old_highs = History(now=NOW, past=(Past(NOW - timedelta(days=20), 1, frozenset()),))
    assert assess(answers(pain=9), old_highs).tier is Tier.NONE


def test_stable_histories_give_nothing() -> None:
    for pains in ((2, 2, 3, 2), (5, 6, 5, 6, 5), (8, 8, 9, 8)):
        for pain in set(pains):
            assert assess(answers(pain=pain), history(*pains)).tier is Tier.NONE


def test_without_history_nothing_is_new_or_above_baseline() -> None:
    assert assess(answers(pain=9, symptoms={"balance"})).tier is Tier.NONE


def test_a_new_neurological_symptom_is_amber_but_a_known_one_is_not() -> None:
    known = history(3, symptoms=(frozenset({"balance"}),))
    assert (
        "amber.new_neuro_symptom" in assess(answers(pain=3, symptoms={"numbness"}), known).rule_ids
    )
    assert assess(answers(pain=3, symptoms={"balance"}), known).tier is Tier.NONE
    # Fatigue is not neurological in this rule.
    assert assess(answers(pain=3, symptoms={"fatigue"}), known).tier is Tier.NONE


def test_a_new_symptom_lasting_more_than_a_day_may_be_a_relapse() -> None:
    numb = frozenset({"numbness"})
    none: frozenset[str] = frozenset()
    # Numbness first reported 20 h ago (after a week without it), and again now, 12 h later.
    day_one = history(3, 3, 3, 3, symptoms=(numb, none, none, none), hours=12)
    result = assess(answers(pain=3, symptoms={"numbness"}), day_one)
    assert "amber.possible_relapse" not in result.rule_ids  # 12 h: not yet more than a day
    span = History(
        now=NOW,
        past=(
            Past(NOW - timedelta(hours=10), 3, numb),
            Past(NOW - timedelta(hours=26), 3, numb),
            Past(NOW - timedelta(days=3), 3, none),
            Past(NOW - timedelta(days=6), 3, none),
        ),
    )
    assert "amber.possible_relapse" in assess(answers(pain=3, symptoms={"numbness"}), span).rule_ids
    # Once per episode: the next check-in of the same run does not fire it again.
    later = History(now=NOW + timedelta(hours=12), past=(Past(NOW, 3, numb), *span.past))
    assert (
        "amber.possible_relapse"
        not in assess(answers(pain=3, symptoms={"numbness"}), later).rule_ids
    )


def test_a_long_standing_symptom_is_not_a_relapse() -> None:
    numb = frozenset({"numbness"})
    always = history(3, 3, 3, 3, 3, symptoms=(numb,) * 5)
    assert assess(answers(pain=3, symptoms={"numbness"}), always).tier is Tier.NONE


def test_not_sure_on_a_warning_question_is_amber() -> None:
    given = answers(pain=2, symptoms={"bladder_bowel"}, bladder_loss="unsure")
    assert assess(given).rule_ids == ("amber.unsure_red_flag",)


def test_red_outranks_amber_and_all_fired_rules_are_listed() -> None:
    given = answers(pain=8, injury="yes", symptoms={"bladder_bowel"}, bladder_loss="unsure")
    result = assess(given, history(2))
    assert result.tier is Tier.RED
    assert set(result.rule_ids) == {
        "red.severe_pain_after_injury",
        "amber.worsening",
        "amber.new_neuro_symptom",
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
