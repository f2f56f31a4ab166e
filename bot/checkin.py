"""The check-in engine: which question comes next, what a tap means, and Back. No Telegram, no
database: it maps (state, step, tapped option) to a new state, so every path is easy to test.

The state is a JSON-ready dict kept on the check-in row:
``answers`` (step id -> answer), ``draft`` (ticks on the current multi-select step),
``trail`` (answered steps, in order, for Back) and ``fired`` (red rules already escalated).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from content.loader import Questionnaire

BACK = "<"
DONE = ">"
"""Reserved option values for the Back and Done buttons."""

FINISHED = "done"
"""The step value of a check-in whose questions are all answered."""

SEVERE_PAIN = 7
"""Pain at or above this (0-10 scale) counts as severe: ask whether it followed an injury."""

SPREAD = frozenset({"legs", "arms"})
"""Options of the ``where`` step that say where the pain spreads to, not where it sits."""

NEURO_SYMPTOMS = frozenset({"numbness", "leg_weakness", "balance", "bladder_bowel"})
"""Reported symptoms that are neurological (for the amber 'new symptom' rule)."""


class Step(StrEnum):
    PAIN = "pain"
    INJURY = "injury"
    WHERE = "where"
    FEEL = "feel"
    SYMPTOMS = "symptoms"
    BLADDER_LOSS = "bladder_loss"
    SADDLE = "saddle"
    SUDDEN_LEGS = "sudden_legs"


ORDER: tuple[Step, ...] = tuple(Step)


@dataclass(frozen=True)
class Answers:
    """A typed view of the answers given so far."""

    pain: int | None = None
    injury: str | None = None
    where: frozenset[str] = frozenset()
    feel: frozenset[str] = frozenset()
    symptoms: frozenset[str] = frozenset()
    bladder_loss: str | None = None
    saddle: str | None = None
    sudden_legs: str | None = None
    note_red_flag: bool = False

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Answers:
        raw: Mapping[str, Any] = state.get("answers", {})
        pain = raw.get("pain")
        return cls(
            pain=int(pain) if pain is not None else None,
            injury=raw.get("injury"),
            where=frozenset(raw.get("where", ())),
            feel=frozenset(raw.get("feel", ())),
            symptoms=frozenset(raw.get("symptoms", ())),
            bladder_loss=raw.get("bladder_loss"),
            saddle=raw.get("saddle"),
            sudden_legs=raw.get("sudden_legs"),
            note_red_flag=bool(state.get("note_red_flag", False)),
        )

    @property
    def locations(self) -> frozenset[str]:
        return self.where - SPREAD

    @property
    def spread(self) -> frozenset[str]:
        return self.where & SPREAD


def applies(step: Step, answers: Answers) -> bool:
    """Whether ``step`` is asked, given the answers so far."""
    if step in (Step.WHERE, Step.FEEL):
        return (answers.pain or 0) > 0
    if step is Step.INJURY:
        return (answers.pain or 0) >= SEVERE_PAIN
    if step in (Step.BLADDER_LOSS, Step.SADDLE):
        return "bladder_bowel" in answers.symptoms
    if step is Step.SUDDEN_LEGS:
        return bool({"leg_weakness", "numbness"} & answers.symptoms)
    return True


def next_step(state: Mapping[str, Any], after: Step | None) -> Step | None:
    """The first step after ``after`` that applies, or None when the questions are done."""
    answers = Answers.from_state(state)
    start = 0 if after is None else ORDER.index(after) + 1
    for step in ORDER[start:]:
        if applies(step, answers):
            return step
    return None


def new_state() -> dict[str, Any]:
    return {"answers": {}, "draft": [], "trail": [], "fired": []}


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
    state: dict[str, Any]
    step: str
    answered: Step | None = None
    """The step that this tap answered, when it answered one."""
    changed: bool = field(default=True)


class Engine:
    """Applies taps to a check-in's state, using the questionnaire from ``content/``."""

    def __init__(self, questionnaire: Questionnaire) -> None:
        missing = [s.value for s in Step if s.value not in questionnaire.steps]
        if missing:
            raise ValueError(f"content/questionnaire.yaml lacks steps: {missing}")
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

    def apply(self, state: Mapping[str, Any], step: Step, option: str) -> Transition:
        """What tapping ``option`` on ``step`` does; ``state`` stays as it was (a copy changes)."""
        new = copy.deepcopy(dict(state))
        new.setdefault("answers", {})
        new.setdefault("draft", [])
        new.setdefault("trail", [])
        if option == BACK:
            return self._back(new, step)
        kind = self.kind(step)
        if kind == "scale":
            if option not in self.options(step):
                return Transition(Outcome.INVALID, new, step.value, changed=False)
            new["answers"][step.value] = int(option)
            return self._advance(new, step)
        if kind == "single":
            if option not in self.options(step):
                return Transition(Outcome.INVALID, new, step.value, changed=False)
            new["answers"][step.value] = option
            return self._advance(new, step)
        # multi-select
        if option == DONE:
            if not new["draft"]:
                return Transition(Outcome.NEED_ONE, new, step.value, changed=False)
            order = self.options(step)
            new["answers"][step.value] = [o for o in order if o in new["draft"]]
            return self._advance(new, step)
        if option == self.none_option(step):
            new["answers"][step.value] = []
            return self._advance(new, step)
        if option not in self.options(step):
            return Transition(Outcome.INVALID, new, step.value, changed=False)
        draft: list[str] = new["draft"]
        if option in draft:
            draft.remove(option)
        else:
            draft.append(option)
        return Transition(Outcome.TOGGLED, new, step.value)

    def _advance(self, state: dict[str, Any], step: Step) -> Transition:
        state["trail"].append(step.value)
        state["draft"] = []
        following = next_step(state, step)
        return Transition(
            Outcome.ADVANCED,
            state,
            following.value if following else FINISHED,
            answered=step,
        )

    def _back(self, state: dict[str, Any], step: Step) -> Transition:
        if not state["trail"]:
            return Transition(Outcome.AT_START, state, step.value, changed=False)
        previous = Step(state["trail"].pop())
        answer = state["answers"].pop(previous.value, None)
        # Going back to a multi-select step shows the earlier ticks again.
        state["draft"] = list(answer) if isinstance(answer, list) else []
        return Transition(Outcome.BACK, state, previous.value)
