"""Findings: what a patient reported, whether by a button or in their own words. Triage reads
findings, never widgets, so a tap and a typed sentence that mean the same lead to the same advice.
Pure: no Telegram, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    """A warning sign. The values are also the option ids of the check-in's warning-signs screen
    and the labels of the free-text target rules in ``content/<lang>/red_flag_terms.yaml``."""

    BLADDER_BOWEL = "bladder_bowel"
    SADDLE = "saddle"
    SEXUAL = "sexual"
    BOTH_LEGS = "both_legs"
    CANT_WALK = "cant_walk"
    STROKE = "stroke"
    CHEST = "chest"
    FEVER = "fever"
    FALL = "fall"
    ONE_SIDE = "one_side"
    NIGHT_WEIGHT = "night_weight"


SHORT: dict[Code, str] = {
    Code.BLADDER_BOWEL: "bb",
    Code.SADDLE: "sa",
    Code.SEXUAL: "sx",
    Code.BOTH_LEGS: "bl",
    Code.CANT_WALK: "cw",
    Code.STROKE: "st",
    Code.CHEST: "ch",
    Code.FEVER: "fe",
    Code.FALL: "fa",
    Code.ONE_SIDE: "os",
    Code.NIGHT_WEIGHT: "nw",
}
"""Two-letter codes for callback data (Telegram allows 64 bytes)."""
FROM_SHORT = {v: k for k, v in SHORT.items()}


class Certainty(StrEnum):
    PRESENT = "present"
    """The patient says they have it now."""
    UNCERTAIN = "uncertain"
    """They hedge ("I think", "maybe", a question): ask them rather than guess."""
    EXCLUDED = "excluded"
    """Denied, someone else's, in the past, or hypothetical."""


@dataclass(frozen=True)
class Finding:
    """One warning sign found in what the patient said or tapped."""

    code: Code
    certainty: Certainty
    by: str = "text"
    """``button`` or ``text``."""
    reason: str = ""
    """Why it was excluded or uncertain (negated, other_person, past, hypothetical, hedged)."""


def present(findings: tuple[Finding, ...]) -> frozenset[Code]:
    return frozenset(f.code for f in findings if f.certainty is Certainty.PRESENT)


def uncertain(findings: tuple[Finding, ...]) -> frozenset[Code]:
    """Codes only hedged about (a code also reported as present is not asked again)."""
    sure = present(findings)
    return frozenset(
        f.code for f in findings if f.certainty is Certainty.UNCERTAIN and f.code not in sure
    )


def encode_codes(codes: frozenset[Code] | set[Code]) -> str:
    return ".".join(sorted(SHORT[c] for c in codes))


def decode_codes(text: str) -> frozenset[Code] | None:
    parts = text.split(".")
    if not parts or any(p not in FROM_SHORT for p in parts):
        return None
    return frozenset(FROM_SHORT[p] for p in parts)
