"""The triage rule table and ``assess``: pure, so the same answers always give the same tier.

Red: get urgent care now. Amber: contact the MS team soon. Each rule names the content id of the
message the patient gets and the source that supports it (content/sources.yaml).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median

from bot.checkin import NEURO_SYMPTOMS, SEVERE_PAIN, Answers
from content.loader import normalise_text


class Tier(StrEnum):
    RED = "red"
    AMBER = "amber"
    NONE = "none"


@dataclass(frozen=True)
class Past:
    """An earlier completed check-in."""

    at: datetime
    pain: int
    symptoms: frozenset[str]


@dataclass(frozen=True)
class History:
    """What the rules may know of earlier completed check-ins (newest first) and of now."""

    now: datetime | None = None
    past: tuple[Past, ...] = ()

    def window(self, before: datetime | None = None) -> tuple[Past, ...]:
        """Check-ins in the baseline window: the 14 days before ``before`` (default: now)."""
        end = before or self.now
        if end is None:
            return self.past
        return tuple(p for p in self.past if end - BASELINE_DAYS <= p.at < end)

    @property
    def baseline(self) -> float | None:
        """The patient's usual pain: the median of their check-ins in the last 14 days."""
        pains = [p.pain for p in self.window()]
        return float(median(pains)) if pains else None


BASELINE_DAYS = timedelta(days=14)
ABOVE_BASELINE = 2.0
"""Points above the usual level at which pain counts as clearly higher."""
ABOVE_BASELINE_RATIO = 1.3
"""A single check-in this far (30%) above the usual level counts too, if also 2 points above."""
RELAPSE_SPAN = timedelta(hours=24)


@dataclass(frozen=True)
class Rule:
    id: str
    tier: Tier
    message_id: str
    source: str
    test: Callable[[Answers, History], bool] = field(repr=False)


def _new_neuro_symptoms(answers: Answers, history: History) -> frozenset[str]:
    """Neurological symptoms reported now and in no check-in of the last 14 days."""
    recent = history.window()
    if not recent:
        return frozenset()  # with no earlier check-in, nothing can be called new
    seen = frozenset().union(*(p.symptoms for p in recent))
    return (answers.symptoms & NEURO_SYMPTOMS) - seen


def _worsening(answers: Answers, history: History) -> bool:
    """Pain 2+ points above the usual level on this and the previous check-in, or on this one
    alone when it is also 30% or more above it."""
    baseline = history.baseline
    if answers.pain is None or baseline is None:
        return False
    high = baseline + ABOVE_BASELINE
    if answers.pain < high:
        return False
    previous_high = bool(history.past) and history.past[0].pain >= high
    return previous_high or answers.pain >= baseline * ABOVE_BASELINE_RATIO


def _possible_relapse(answers: Answers, history: History) -> bool:
    """A new neurological symptom, reported in check-ins that now span more than 24 hours.
    Fires once per episode: on the first check-in past the 24 hours."""
    if history.now is None:
        return False
    for symptom in answers.symptoms & NEURO_SYMPTOMS:
        run: list[Past] = []
        for past in history.past:  # newest first: the unbroken run of reports before now
            if symptom not in past.symptoms:
                break
            run.append(past)
        if not run:
            continue
        first = run[-1]
        before = history.window(first.at)
        if not before or any(symptom in p.symptoms for p in before):
            continue  # no history to call it new, or not new
        if history.now - first.at > RELAPSE_SPAN >= run[0].at - first.at:
            return True
    return False


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
        "amber.worsening",
        Tier.AMBER,
        "amber.worsening",
        "ms-back-pain",
        _worsening,
    ),
    Rule(
        "amber.possible_relapse",
        Tier.AMBER,
        "amber.possible_relapse",
        "ms-back-pain",
        _possible_relapse,
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
