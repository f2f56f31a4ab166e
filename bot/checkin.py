"""The check-in engine: which question comes next, what a tap means, and Back. No Telegram, no
database: it maps (state, step, tapped option) to a new state, so every path is easy to test.

The state is kept on the check-in row as JSON; :class:`CheckinState` is its one typed shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from bot.findings import Code
from content.loader import Questionnaire

BACK = "<"
DONE = ">"
"""Reserved option values for the Back and Done buttons."""
TICK = "+"
UNTICK = "-"
"""Prefixes of a multi-select option: tick it, or untick it."""

FINISHED = "done"
"""The step value of a check-in whose questions are all answered."""

SEVERE_PAIN = 7
"""Pain at or above this (0-10 scale) counts as severe."""

SPREAD = frozenset({"legs", "arms"})
"""Options of the ``where`` step that say where the pain spreads to, not where it sits."""

NEURO_SYMPTOMS = frozenset({"numbness", "leg_weakness", "balance", "bladder_bowel", "thinking"})
"""Reported symptoms that can be part of an MS relapse (the relapse question is asked then)."""

BAND_CHEST = "band"
"""The answer to the chest question that means the familiar MS band, with no breathlessness."""


class Step(StrEnum):
    PAIN = "pain"
    WHERE = "where"
    FEEL = "feel"
    SYMPTOMS = "symptoms"
    WARNING = "warning"
    CHEST = "chest"
    RELAPSE = "relapse"


ORDER: tuple[Step, ...] = tuple(Step)

# Tiers as stored: the check-in remembers the highest one it has escalated.
TIER_ORDER = ("none", "soon", "urgent", "emergency")


@dataclass
class CheckinState:
    """Everything a check-in in progress holds, as stored in ``checkins.state``."""

    answers: dict[str, Any] = field(default_factory=dict)
    """step id -> the pain score, a single option, or a list of ticked options."""
    draft: list[str] = field(default_factory=list)
    """Ticks on the current multi-select step, not yet confirmed with Done."""
    trail: list[str] = field(default_factory=list)
    """Answered steps, in order, for Back."""
    text_findings: list[str] = field(default_factory=list)
    """Warning signs the patient typed during this check-in (finding codes)."""
    escalated: str = "none"
    """The highest tier already escalated for this check-in."""
    rules: list[str] = field(default_factory=list)
    """Rule ids already escalated for this check-in."""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> CheckinState:
        raw = raw or {}
        return cls(
            answers=dict(raw.get("answers", {})),
            draft=list(raw.get("draft", [])),
            trail=list(raw.get("trail", [])),
            text_findings=list(raw.get("text_findings", [])),
            escalated=str(raw.get("escalated", "none")),
            rules=list(raw.get("rules", [])),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "draft": self.draft,
            "trail": self.trail,
            "text_findings": self.text_findings,
            "escalated": self.escalated,
            "rules": self.rules,
        }

    def copy(self) -> CheckinState:
        return CheckinState.from_json(
            {
                **self.to_json(),
                "answers": {
                    k: list(v) if isinstance(v, list) else v for k, v in self.answers.items()
                },
            }
        )

    def answer_rows(self) -> list[tuple[str, str]]:
        """(question, value) rows for the answers table: every step but the pain score (kept on
        the check-in itself), and the warning signs typed during the check-in as ``text``."""
        rows: list[tuple[str, str]] = []
        for step, value in self.answers.items():
            if step == "pain" or value is None:
                continue
            values = value if isinstance(value, list) else [value]
            rows.extend((step, str(v)) for v in values)
        rows.extend(("text", code) for code in self.text_findings)
        return rows

    @property
    def escalated_at_least_urgent(self) -> bool:
        return TIER_ORDER.index(self.escalated) >= TIER_ORDER.index("urgent")


def answers_by_question(
    is_open: bool, raw_state: Mapping[str, Any] | None, rows: Iterable[tuple[str, str]]
) -> dict[str, list[str]]:
    """question -> values of a stored check-in: from its answers rows once it is closed, from
    its state while it is open (the rows are written when it closes)."""
    source = CheckinState.from_json(raw_state).answer_rows() if is_open else rows
    found: dict[str, list[str]] = {}
    for question, value in source:
        found.setdefault(question, []).append(value)
    return found


@dataclass(frozen=True)
class Answers:
    """A typed view of the answers given so far."""

    pain: int | None = None
    where: frozenset[str] = frozenset()
    feel: frozenset[str] = frozenset()
    symptoms: frozenset[str] = frozenset()
    warning: frozenset[str] = frozenset()
    chest: str | None = None
    relapse: str | None = None
    text_findings: frozenset[str] = frozenset()

    @classmethod
    def from_state(cls, state: CheckinState) -> Answers:
        raw = state.answers
        pain = raw.get("pain")
        return cls(
            pain=int(pain) if pain is not None else None,
            where=frozenset(raw.get("where", ())),
            feel=frozenset(raw.get("feel", ())),
            symptoms=frozenset(raw.get("symptoms", ())),
            warning=frozenset(raw.get("warning", ())),
            chest=raw.get("chest"),
            relapse=raw.get("relapse"),
            text_findings=frozenset(state.text_findings),
        )

    @property
    def locations(self) -> frozenset[str]:
        return self.where - SPREAD

    @property
    def spread(self) -> frozenset[str]:
        return self.where & SPREAD

    @property
    def reported(self) -> frozenset[Code]:
        """Warning signs reported so far, by button or in words. A chest pain that the patient
        says is their familiar MS band, with no breathlessness, is not a warning sign."""
        codes = {
            Code(c) for c in self.warning | self.text_findings if c in Code.__members__.values()
        }
        button_chest = Code.CHEST in codes and Code.CHEST.value not in self.text_findings
        if button_chest and self.chest in (BAND_CHEST, None):
            codes.discard(Code.CHEST)  # not yet asked, or the familiar band
        return frozenset(codes)


def applies(step: Step, answers: Answers, state: CheckinState | None = None) -> bool:
    """Whether ``step`` is asked, given the answers so far."""
    if step in (Step.WHERE, Step.FEEL):
        return (answers.pain or 0) > 0
    if step is Step.CHEST:
        return Code.CHEST.value in answers.warning
    if step is Step.RELAPSE:
        # Asked when a symptom could be part of a relapse; pointless once urgent advice is given.
        urgent = state is not None and state.escalated_at_least_urgent
        return bool(NEURO_SYMPTOMS & answers.symptoms) and not urgent
    return True


def next_step(state: CheckinState, after: Step | None) -> Step | None:
    """The first step after ``after`` that applies, or None when the questions are done."""
    answers = Answers.from_state(state)
    start = 0 if after is None else ORDER.index(after) + 1
    for step in ORDER[start:]:
        if applies(step, answers, state):
            return step
    return None


def new_state() -> CheckinState:
    return CheckinState()


class Outcome(StrEnum):
    ADVANCED = "advanced"  # the step is answered; ``step`` is the next one (or FINISHED)
    TOGGLED = "toggled"  # a tick changed on a multi-select step
    BACK = "back"  # went back one step
    AT_START = "at_start"  # Back on the first question: nothing to go back to
    NEED_ONE = "need_one"  # Done with nothing ticked
    INVALID = "invalid"  # the option does not belong to this step


@dataclass
class Transition:
    outcome: Outcome
    state: CheckinState
    step: str
    answered: Step | None = None
    """The step that this tap answered, when it answered one."""


class Engine:
    """Applies taps to a check-in's state, using the questionnaire from ``content/``."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        missing = [s.value for s in Step if s.value not in questionnaire.steps]
        if missing:
            raise ValueError(f"content/questionnaire.yaml lacks steps: {missing}")
        warning = set(questionnaire.steps[Step.WARNING.value].options)
        if warning != {c.value for c in Code}:
            raise ValueError("content/questionnaire.yaml: the warning step must offer every Code")
        self.questionnaire = questionnaire

    def options(self, step: Step) -> tuple[str, ...]:
        spec = self.questionnaire.steps[step.value]
        if spec.kind == "scale":
            return tuple(str(n) for n in range(spec.min, spec.max + 1))
        return spec.options

    def none_option(self, step: Step) -> str | None:
        return self.questionnaire.steps[step.value].none_option

    def kind(self, step: Step) -> str:
        return self.questionnaire.steps[step.value].kind

    def apply(self, state: CheckinState, step: Step, option: str) -> Transition:
        """What tapping ``option`` on ``step`` does; ``state`` stays as it was (a copy changes)."""
        new = state.copy()
        if option == BACK:
            return self._back(new, step)
        kind = self.kind(step)
        if kind in ("scale", "single"):
            if option not in self.options(step):
                return Transition(Outcome.INVALID, new, step.value)
            new.answers[step.value] = int(option) if kind == "scale" else option
            return self._advance(new, step)
        # multi-select
        if option == DONE:
            if not new.draft:
                return Transition(Outcome.NEED_ONE, new, step.value)
            new.answers[step.value] = [o for o in self.options(step) if o in new.draft]
            return self._advance(new, step)
        if option == self.none_option(step):
            new.answers[step.value] = []
            return self._advance(new, step)
        # A tick carries the state it sets ("+lower" ticks, "-lower" unticks), so a repeated
        # delivery or a double tap changes nothing; a bare option (older keyboards) flips.
        wanted: bool | None = None
        if option[:1] in (TICK, UNTICK):
            wanted, option = option[0] == TICK, option[1:]
        if option not in self.options(step):
            return Transition(Outcome.INVALID, new, step.value)
        ticked = option in new.draft
        if wanted is None:
            wanted = not ticked
        if wanted and not ticked:
            new.draft.append(option)
        elif not wanted and ticked:
            new.draft.remove(option)
        return Transition(Outcome.TOGGLED, new, step.value)

    def skip_to_end(self, state: CheckinState) -> CheckinState:
        """The state of a check-in closed early (after emergency advice): answers kept."""
        return replace(state.copy(), draft=[])

    def _advance(self, state: CheckinState, step: Step) -> Transition:
        state.trail.append(step.value)
        state.draft = []
        following = next_step(state, step)
        return Transition(
            Outcome.ADVANCED, state, following.value if following else FINISHED, answered=step
        )

    def _back(self, state: CheckinState, step: Step) -> Transition:
        if not state.trail:
            return Transition(Outcome.AT_START, state, step.value)
        previous = Step(state.trail.pop())
        answer = state.answers.pop(previous.value, None)
        # Going back to a multi-select step shows the earlier ticks again.
        state.draft = list(answer) if isinstance(answer, list) else []
        return Transition(Outcome.BACK, state, previous.value)
