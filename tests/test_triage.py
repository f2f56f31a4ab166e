"""The triage table: findings + profile + history -> the highest tier. Pure and deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.checkin import Answers
from bot.findings import Code
from bot.triage import (
    RULES,
    Facts,
    History,
    Past,
    Profile,
    Tier,
    assess,
    escalation_due,
)
from content.loader import default_catalog

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LOW_RISK = Profile(bone_risk=False, immunosuppressed=False, cancer_history=False)


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


def facts(
    *codes: Code,
    pain: int = 3,
    profile: Profile = LOW_RISK,
    past: History | None = None,
    **answers: object,
) -> Facts:
    for key in ("where", "feel", "symptoms"):
        if key in answers:
            answers[key] = frozenset(answers[key])  # type: ignore[arg-type]
    given = Answers(pain=pain, **answers)  # type: ignore[arg-type]
    return Facts(frozenset(codes), given, profile, past)


@pytest.mark.parametrize(
    ("code", "tier", "rule"),
    [
        (Code.BLADDER_BOWEL, Tier.EMERGENCY, "emergency.cauda_equina"),
        (Code.SADDLE, Tier.EMERGENCY, "emergency.cauda_equina"),
        (Code.SEXUAL, Tier.EMERGENCY, "emergency.cauda_equina"),
        (Code.BOTH_LEGS, Tier.EMERGENCY, "emergency.cauda_equina"),
        (Code.CANT_WALK, Tier.EMERGENCY, "emergency.cant_walk"),
        (Code.STROKE, Tier.EMERGENCY, "emergency.stroke"),
        (Code.CHEST, Tier.EMERGENCY, "emergency.chest"),
        (Code.FEVER, Tier.URGENT, "urgent.fever"),
        (Code.ONE_SIDE, Tier.URGENT, "urgent.one_side"),
        (Code.FALL, Tier.SOON, "soon.fall"),
        (Code.NIGHT_WEIGHT, Tier.SOON, "soon.night_weight"),
    ],
)
def test_each_warning_sign_reaches_its_tier(code: Code, tier: Tier, rule: str) -> None:
    result = assess(facts(code))
    assert result.tier is tier
    assert rule in result.rule_ids


def test_a_one_sided_change_over_a_day_or_two_is_same_day_not_the_emergency_department() -> None:
    assert assess(facts(Code.ONE_SIDE)).tier is Tier.URGENT


def test_a_fall_at_any_pain_level_is_urgent_when_bones_may_be_weak() -> None:
    fragile = Profile(bone_risk=True)
    assert assess(facts(Code.FALL, pain=1, profile=fragile)).tier is Tier.URGENT
    # Unknown bone risk counts as a risk; severe pain after a fall is urgent for anyone.
    assert assess(facts(Code.FALL, pain=1, profile=Profile())).tier is Tier.URGENT
    assert assess(facts(Code.FALL, pain=8)).tier is Tier.URGENT
    assert assess(facts(Code.FALL, pain=2)).tier is Tier.SOON


def test_night_pain_or_weight_loss_is_urgent_after_cancer() -> None:
    after_cancer = Profile(bone_risk=False, immunosuppressed=False, cancer_history=True)
    assert assess(facts(Code.NIGHT_WEIGHT, profile=after_cancer)).tier is Tier.URGENT
    assert assess(facts(Code.NIGHT_WEIGHT)).tier is Tier.SOON


def test_fever_is_urgent_with_or_without_immunosuppression() -> None:
    assert assess(facts(Code.FEVER)).tier is Tier.URGENT
    immuno = Profile(immunosuppressed=True)
    assert assess(facts(Code.FEVER, profile=immuno)).tier is Tier.URGENT


def test_the_highest_tier_wins_and_every_rule_is_listed() -> None:
    result = assess(facts(Code.FEVER, Code.BLADDER_BOWEL, Code.FALL))
    assert result.tier is Tier.EMERGENCY
    assert {"emergency.cauda_equina", "urgent.fever", "soon.fall"} <= set(result.rule_ids)


def test_calm_answers_give_no_tier() -> None:
    given = facts(pain=4, where={"lower"}, feel={"aching"}, symptoms={"fatigue"})
    assert assess(given).tier is Tier.NONE


def test_a_first_check_in_at_nine_or_ten_gets_same_day_advice() -> None:
    first = facts(pain=9, past=History(now=NOW))
    assert assess(first).tier is Tier.URGENT
    assert "urgent.severe_pain" in assess(first).rule_ids
    # With a usual level of 8 or 9, a 9 is not news.
    assert assess(facts(pain=9, past=history(9, 8, 9, 8))).tier is Tier.NONE
    # While the check-in is still going, the history rules wait.
    assert assess(facts(pain=10)).tier is Tier.NONE


def test_worsening_needs_a_baseline_of_three_check_ins() -> None:
    assert "soon.worsening" not in assess(facts(pain=8, past=history(3))).rule_ids
    assert "soon.worsening" not in assess(facts(pain=8, past=history(3, 3))).rule_ids
    assert "soon.worsening" in assess(facts(pain=8, past=history(3, 3, 3))).rule_ids


def test_worsening_never_fires_on_low_pain() -> None:
    # From 0-1 up to 2-3 is not worsening, however large the ratio.
    assert assess(facts(pain=3, past=history(1, 0, 1, 1))).tier is Tier.NONE


def test_worsening_two_check_ins_in_a_row_two_points_above_the_median() -> None:
    stable = history(7, 7, 6, 7, 7)  # median 7
    assert "soon.worsening" not in assess(facts(pain=9, past=stable)).rule_ids
    two_in_a_row = history(9, 7, 6, 7, 7)
    assert "soon.worsening" in assess(facts(pain=9, past=two_in_a_row)).rule_ids


def test_worsening_ignores_check_ins_older_than_14_days() -> None:
    old = History(
        now=NOW, past=tuple(Past(NOW - timedelta(days=20 + i), 1, frozenset()) for i in range(5))
    )
    assert "soon.worsening" not in assess(facts(pain=8, past=old)).rule_ids


def test_relapse_asked_directly_is_soon_but_not_with_a_fever() -> None:
    assert assess(facts(symptoms={"numbness"}, relapse="yes")).tier is Tier.SOON
    assert assess(facts(symptoms={"numbness"}, relapse="unsure")).tier is Tier.SOON
    with_fever = assess(facts(Code.FEVER, symptoms={"numbness"}, relapse="yes"))
    assert with_fever.tier is Tier.URGENT and "soon.relapse" not in with_fever.rule_ids


def test_a_new_symptom_lasting_more_than_a_day_may_be_a_relapse() -> None:
    numb = frozenset({"numbness"})
    none: frozenset[str] = frozenset()
    span = History(
        now=NOW,
        past=(
            Past(NOW - timedelta(hours=10), 3, numb),
            Past(NOW - timedelta(hours=26), 3, numb),
            Past(NOW - timedelta(days=3), 3, none),
            Past(NOW - timedelta(days=6), 3, none),
        ),
    )
    assert "soon.relapse_pattern" in assess(facts(symptoms={"numbness"}, past=span)).rule_ids
    always = history(3, 3, 3, 3, 3, symptoms=(numb,) * 5)
    assert assess(facts(symptoms={"numbness"}, past=always)).tier is Tier.NONE


def test_one_escalation_per_tier_per_check_in() -> None:
    emergency = facts(Code.BLADDER_BOWEL)
    assert escalation_due(emergency, Tier.NONE) is not None
    assert escalation_due(emergency, Tier.EMERGENCY) is None
    # A higher tier later in the same check-in is escalated; a lower one never is.
    assert escalation_due(facts(Code.STROKE), Tier.URGENT) is not None
    assert escalation_due(facts(Code.FEVER), Tier.EMERGENCY) is None


def test_soon_advice_waits_unless_asked_for() -> None:
    assert escalation_due(facts(Code.FALL), Tier.NONE) is None  # mid check-in: urgent+ only
    assert escalation_due(facts(Code.FALL), Tier.NONE, Tier.SOON) is not None


def test_same_facts_always_give_the_same_result() -> None:
    given = facts(Code.FEVER, Code.FALL, pain=8, symptoms={"numbness"})
    assert len({assess(given).rule_ids for _ in range(20)}) == 1


def test_every_rule_names_a_source_and_a_reason_that_exist() -> None:
    catalog = default_catalog()
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.source in catalog.sources, rule.id
        assert catalog.has_text(f"why.{rule.id}"), rule.id
        assert rule.codes or catalog.has_text(f"what.{rule.id}"), rule.id
    for code in Code:
        assert catalog.has_text(f"what.{code.value}"), code
