"""The triage rule table and ``assess``: pure, so the same facts always give the same tier.

Tiers, highest first: EMERGENCY (call the emergency number or go to the emergency department
now), URGENT (get medical advice today), SOON (contact the MS team in the next day or two), NONE.
Each rule reads findings (what was reported, by button or in words), the patient's profile and
their history; each names the source that supports it (``content/sources.yaml``). The patient's
message for a tier is composed from the rules that fired: one message, however many fired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from statistics import median

from bot.checkin import NEURO_SYMPTOMS, TIER_ORDER, Answers
from bot.findings import Code


class Tier(IntEnum):
    NONE = 0
    SOON = 1
    URGENT = 2
    EMERGENCY = 3

    @property
    def label(self) -> str:
        """The name stored in the database and used in content ids."""
        return TIER_ORDER[self.value]

    @classmethod
    def of(cls, label: str) -> Tier:
        return cls(TIER_ORDER.index(label)) if label in TIER_ORDER else cls.NONE


@dataclass(frozen=True)
class Profile:
    """Facts asked once (onboarding and /settings), never each check-in. ``None``: not answered
    or "not sure", which the rules treat as the riskier answer."""

    bone_risk: bool | None = None
    """Long-term or repeated steroid courses, osteoporosis, or older age."""
    immunosuppressed: bool | None = None
    """A disease-modifying treatment that lowers the immune defences."""
    cancer_history: bool | None = None


@dataclass(frozen=True)
class Past:
    """An earlier completed check-in."""

    at: datetime
    pain: int
    symptoms: frozenset[str]


BASELINE_DAYS = timedelta(days=14)
BASELINE_MIN_CHECKINS = 3
"""A usual level needs at least this many check-ins in the 14 days before."""
ABOVE_BASELINE = 2.0
ABOVE_BASELINE_RATIO = 1.3
WORSENING_FLOOR = 4
"""Pain below this is never called worsening (0-1 rising to 2-3 is not)."""
NO_BASELINE_SEVERE = 9
"""Pain at or above this with no usual level to compare gets same-day advice."""
RELAPSE_SPAN = timedelta(hours=24)


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
        """The usual pain: the median of at least three check-ins in the last 14 days."""
        pains = [p.pain for p in self.window()]
        return float(median(pains)) if len(pains) >= BASELINE_MIN_CHECKINS else None


@dataclass(frozen=True)
class Facts:
    """Everything a rule may read."""

    findings: frozenset[Code]
    answers: Answers = field(default_factory=Answers)
    profile: Profile = field(default_factory=Profile)
    history: History | None = None
    """None while a check-in is in progress: the history rules wait for the end."""


@dataclass(frozen=True)
class Rule:
    id: str
    tier: Tier
    source: str
    test: Callable[[Facts], bool] = field(repr=False)
    codes: frozenset[Code] = frozenset()
    """The warning signs this rule is about (for the "you told me" list)."""


def _any(*codes: Code) -> Callable[[Facts], bool]:
    wanted = frozenset(codes)
    return lambda f: bool(f.findings & wanted)


def _fall_with_bone_risk(f: Facts) -> bool:
    return Code.FALL in f.findings and (
        f.profile.bone_risk is not False or (f.answers.pain or 0) >= 7
    )


def _fall_without_bone_risk(f: Facts) -> bool:
    return Code.FALL in f.findings and not _fall_with_bone_risk(f)


def _night_weight_cancer(f: Facts) -> bool:
    return Code.NIGHT_WEIGHT in f.findings and f.profile.cancer_history is not False


def _night_weight_only(f: Facts) -> bool:
    return Code.NIGHT_WEIGHT in f.findings and f.profile.cancer_history is False


def _severe_without_baseline(f: Facts) -> bool:
    if f.history is None or f.answers.pain is None:
        return False
    return f.answers.pain >= NO_BASELINE_SEVERE and f.history.baseline is None


def _worsening(f: Facts) -> bool:
    """Pain 2+ points above the usual level (at least three check-ins) on this and the previous
    check-in, or on this one alone when it is also 30% or more above it; never below 4."""
    history = f.history
    pain = f.answers.pain
    if history is None or pain is None or pain < WORSENING_FLOOR:
        return False
    baseline = history.baseline
    if baseline is None or pain < baseline + ABOVE_BASELINE:
        return False
    previous_high = bool(history.past) and history.past[0].pain >= baseline + ABOVE_BASELINE
    return previous_high or pain >= baseline * ABOVE_BASELINE_RATIO


def _relapse_reported(f: Facts) -> bool:
    """New or worse symptoms for more than 24 hours, asked directly; with a fever the urgent
    fever advice covers it (an infection can bring old symptoms back)."""
    return f.answers.relapse in ("yes", "unsure") and Code.FEVER not in f.findings


def _relapse_inferred(f: Facts) -> bool:
    """A neurological symptom that is new against the 14 days before it, reported in check-ins
    that now span more than 24 hours. Fires once per episode."""
    history = f.history
    if history is None or history.now is None or Code.FEVER in f.findings:
        return False
    for symptom in f.answers.symptoms & NEURO_SYMPTOMS:
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
            continue
        if history.now - first.at > RELAPSE_SPAN >= run[0].at - first.at:
            return True
    return False


E, U, S = Tier.EMERGENCY, Tier.URGENT, Tier.SOON
CAUDA_EQUINA = (Code.BLADDER_BOWEL, Code.SADDLE, Code.SEXUAL, Code.BOTH_LEGS)

RULES: tuple[Rule, ...] = (
    Rule("emergency.cauda_equina", E, "girft-ces", _any(*CAUDA_EQUINA), frozenset(CAUDA_EQUINA)),
    Rule("emergency.cant_walk", E, "nhs-cauda-equina", _any(Code.CANT_WALK),
         frozenset({Code.CANT_WALK})),
    Rule("emergency.stroke", E, "nhs-stroke", _any(Code.STROKE), frozenset({Code.STROKE})),
    Rule("emergency.chest", E, "nhs-chest-pain", _any(Code.CHEST), frozenset({Code.CHEST})),
    Rule("urgent.fever", U, "nhs-back-pain", _any(Code.FEVER), frozenset({Code.FEVER})),
    Rule("urgent.fall", U, "nice-ng59", _fall_with_bone_risk, frozenset({Code.FALL})),
    Rule("urgent.one_side", U, "mstrust-relapse", _any(Code.ONE_SIDE),
         frozenset({Code.ONE_SIDE})),
    Rule("urgent.night_weight", U, "nice-ng59", _night_weight_cancer,
         frozenset({Code.NIGHT_WEIGHT})),
    Rule("urgent.severe_pain", U, "nhs-back-pain", _severe_without_baseline),
    Rule("soon.fall", S, "nhs-back-pain", _fall_without_bone_risk, frozenset({Code.FALL})),
    Rule("soon.night_weight", S, "nhs-back-pain", _night_weight_only,
         frozenset({Code.NIGHT_WEIGHT})),
    Rule("soon.relapse", S, "mstrust-relapse", _relapse_reported),
    Rule("soon.relapse_pattern", S, "mstrust-relapse", _relapse_inferred),
    Rule("soon.worsening", S, "mstrust-pain", _worsening),
)  # fmt: skip

RULES_BY_ID = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Assessment:
    tier: Tier
    fired: tuple[Rule, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.fired)

    def at_least(self, tier: Tier) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.fired if rule.tier >= tier)


def assess(facts: Facts) -> Assessment:
    """Every rule that fires for these facts, and the highest tier reached."""
    fired = tuple(rule for rule in RULES if rule.test(facts))
    tier = max((rule.tier for rule in fired), default=Tier.NONE)
    return Assessment(tier, fired)


def escalation_due(facts: Facts, already: Tier, minimum: Tier = Tier.URGENT) -> Assessment | None:
    """The escalation to send now, if the facts reach a tier above ``already`` (and at least
    ``minimum``): one message for that tier, listing every rule that fired at or above it."""
    result = assess(facts)
    if result.tier <= already or result.tier < minimum:
        return None
    return Assessment(result.tier, result.at_least(Tier.SOON))


def codes_of(rules: Iterable[Rule], findings: frozenset[Code]) -> tuple[Code, ...]:
    """The reported warning signs behind these rules, in a stable order."""
    wanted: set[Code] = set()
    for rule in rules:
        wanted |= rule.codes & findings
    return tuple(c for c in Code if c in wanted)
