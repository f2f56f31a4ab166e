"""The triage rule table and ``assess``: pure, so the same answers always give the same tier.

Red: get urgent care now. Amber: contact the MS team soon. Each rule names the content id of the
message the patient gets and the source that supports it (content/sources.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import fmean

from bot.checkin import NEURO_SYMPTOMS, SEVERE_PAIN, Answers
from content.loader import normalise_text


class Tier(StrEnum):
    RED = "red"
    AMBER = "amber"
    NONE = "none"


@dataclass(frozen=True)
class History:
    """What the rules may know of earlier, completed check-ins (newest first)."""

    pains: tuple[int, ...] = ()
    symptoms: tuple[frozenset[str], ...] = ()

    @property
    def baseline(self) -> float | None:
        """The patient's recent pain level: the mean of up to their last five check-ins."""
        recent = self.pains[:BASELINE_WINDOW]
        return fmean(recent) if recent else None

    @property
    def recent_symptoms(self) -> frozenset[str]:
        return frozenset().union(*self.symptoms) if self.symptoms else frozenset()


BASELINE_WINDOW = 5
ABOVE_BASELINE = 2.0
"""Points above the recent mean at which pain counts as clearly higher."""


@dataclass(frozen=True)
class Rule:
    id: str
    tier: Tier
    message_id: str
    source: str
    test: Callable[[Answers, History], bool] = field(repr=False)


def _new_neuro_symptoms(answers: Answers, history: History) -> frozenset[str]:
    if not history.symptoms:
        return frozenset()  # with no earlier check-in, nothing can be called new
    return (answers.symptoms & NEURO_SYMPTOMS) - history.recent_symptoms


def _above_baseline(answers: Answers, history: History) -> bool:
    baseline = history.baseline
    return (
        answers.pain is not None
        and baseline is not None
        and (answers.pain >= baseline + ABOVE_BASELINE)
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "red.bladder_loss",
        Tier.RED,
        "red.bladder_loss",
        "ms-back-pain",
        lambda a, h: a.bladder_loss == "yes",
    ),
    Rule(
        "red.saddle_numbness",
        Tier.RED,
        "red.saddle_numbness",
        "ms-back-pain",
        lambda a, h: a.saddle == "yes",
    ),
    Rule(
        "red.sudden_leg_weakness",
        Tier.RED,
        "red.sudden_legs",
        "ms-back-pain",
        lambda a, h: a.sudden_legs == "yes",
    ),
    Rule(
        "red.severe_pain_after_injury",
        Tier.RED,
        "red.injury",
        "ms-back-pain",
        lambda a, h: a.injury == "yes" and (a.pain or 0) >= SEVERE_PAIN,
    ),
    Rule(
        "red.note_phrase",
        Tier.RED,
        "red.note_phrase",
        "ms-back-pain",
        lambda a, h: a.note_red_flag,
    ),
    Rule(
        "amber.pain_above_baseline",
        Tier.AMBER,
        "amber.pain_above_baseline",
        "ms-back-pain",
        _above_baseline,
    ),
    Rule(
        "amber.new_neuro_symptom",
        Tier.AMBER,
        "amber.new_neuro_symptom",
        "ms-back-pain",
        lambda a, h: bool(_new_neuro_symptoms(a, h)),
    ),
    Rule(
        "amber.unsure_red_flag",
        Tier.AMBER,
        "amber.unsure_red_flag",
        "ms-back-pain",
        lambda a, h: "unsure" in (a.bladder_loss, a.saddle, a.sudden_legs),
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Assessment:
    tier: Tier
    fired: tuple[Rule, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.fired)

    def of_tier(self, tier: Tier) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.fired if rule.tier is tier)


def assess(answers: Answers, history: History = History()) -> Assessment:
    """Every rule that fires for these answers and this history, and the highest tier."""
    fired = tuple(rule for rule in RULES if rule.test(answers, history))
    if any(rule.tier is Tier.RED for rule in fired):
        tier = Tier.RED
    elif fired:
        tier = Tier.AMBER
    else:
        tier = Tier.NONE
    return Assessment(tier, fired)


def new_red_rules(answers: Answers, already: Iterable[str]) -> tuple[Rule, ...]:
    """Red rules that fire now and have not been escalated for this check-in yet."""
    done = set(already)
    return tuple(r for r in assess(answers).of_tier(Tier.RED) if r.id not in done)


def matches_red_phrase(text: str, phrases: Sequence[str]) -> bool:
    """Whether a free-text note contains a red-flag phrase, as whole words."""
    normalised = f" {normalise_text(text)} "
    return any(re.search(rf"\b{re.escape(p)}\b", normalised) for p in phrases if p)
