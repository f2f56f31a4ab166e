"""What a check-in's answers call for: whether they reach a tier of advice above the one given
already (by the rule table in ``bot.triage``, with the person's profile and, at the end, their
earlier check-ins), and storing a decided escalation in the outbox. Used by every path that
can escalate: a tap (``bot.checkin_service``, both its lean and its ORM path) and typed text
(``bot.text_intake``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import triage
from bot.checkin import Answers, CheckinState, Step
from bot.clock import Clock
from bot.escalations import Advice, Outbox
from bot.findings import Code
from bot.triage import Facts, Profile, Tier
from bot.users import profile_of
from db.models import CheckIn, User
from db.repo import checkins as repo

HISTORY_WINDOW = 120
HISTORY_SPAN = timedelta(days=28)
"""Earlier check-ins the amber rules look at: their windows are 14 days, and a symptom's
episode can start up to 14 days before the 14 days that tell whether it is new."""


@dataclass(frozen=True)
class Escalating:
    """An escalation decided, not yet stored."""

    assessment: triage.Assessment
    findings: frozenset[Code]
    pain: int | None


def history_of(
    now: datetime, earlier: Iterable[tuple[datetime, int | None, Iterable[str]]]
) -> triage.History:
    """What the rules know of the earlier complete check-ins: ``(when it finished, pain,
    symptoms)``, newest first."""
    return triage.History(
        now=now,
        past=tuple(
            triage.Past(at=at, pain=pain, symptoms=frozenset(symptoms))
            for at, pain, symptoms in earlier
            # A check-in closed by emergency advice before the score has no pain to count.
            if pain is not None
        ),
    )


class CheckinAdvice:
    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock

    def decide(
        self,
        user: User,
        state: CheckinState,
        *,
        history: triage.History | None = None,
        minimum: Tier = Tier.URGENT,
    ) -> Escalating | None:
        """Whether what was reported now reaches a tier above the one already given for this
        check-in; if so ``state`` remembers it. Nothing is stored: the caller first saves the
        check-in (with its version check), then :meth:`record` s the escalation."""
        return self.decide_for(profile_of(user), state, history=history, minimum=minimum)

    def decide_for(
        self,
        profile: Profile,
        state: CheckinState,
        *,
        history: triage.History | None = None,
        minimum: Tier = Tier.URGENT,
    ) -> Escalating | None:
        """:meth:`decide` for a caller that holds only the person's profile (the lean tap)."""
        answers = Answers.from_state(state)
        facts = Facts(answers.reported, answers, profile, history)
        due = triage.escalation_due(facts, Tier.of(state.escalated), minimum)
        if due is None:
            return None
        state.escalated = due.tier.label
        state.rules = [*state.rules, *(r for r in due.rule_ids if r not in state.rules)]
        return Escalating(due, facts.findings, answers.pain)

    async def record(
        self, session: AsyncSession, user: User, checkin_id: int | None, due: Escalating | None
    ) -> Advice | None:
        """Store a decided escalation in the outbox (same transaction); the caller sends it."""
        if due is None:
            return None
        return await self.outbox.record(
            session, user, checkin_id, due.assessment, due.findings, due.pain
        )

    async def earlier(
        self, session: AsyncSession, user: User, checkin_id: int
    ) -> Sequence[CheckIn]:
        """The person's earlier complete check-ins the amber rules look at, newest first."""
        since = self.clock.now() - HISTORY_SPAN
        return await repo.recent_complete(
            session, user.id, HISTORY_WINDOW, exclude=checkin_id, since=since
        )

    def history(self, earlier: Sequence[CheckIn]) -> triage.History:
        symptoms = Step.SYMPTOMS.value
        return history_of(
            self.clock.now(),
            (
                (
                    c.finished_at or c.started_at,
                    c.pain_score,
                    (a.value for a in c.answers if a.question == symptoms),
                )
                for c in earlier
            ),
        )
