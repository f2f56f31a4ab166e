"""The check-in service: one unit of work per tap. It loads the check-in (checking owner, step and
openness), lets the engine decide, runs triage, chooses snippets and stores it all. It returns
what happened; handlers render it. No Telegram imports."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import awaiting as expect
from bot import updates
from bot.awaiting import Awaiting, Expect
from bot.checkin import (
    FINISHED,
    Answers,
    CheckinState,
    Engine,
    Outcome,
    Step,
    Transition,
    new_state,
    next_step,
)
from bot.checkin_advice import (
    HISTORY_SPAN,
    HISTORY_WINDOW,
    CheckinAdvice,
    Escalating,
    history_of,
)
from bot.clock import Clock
from bot.escalations import Advice, Outbox
from bot.metrics import Metrics
from bot.snippets import choose
from bot.triage import Profile, Tier
from content.loader import Catalog, Snippet
from db.models import CheckIn, SnippetDelivery, User
from db.repo import checkins as repo
from db.repo import users as user_repo
from db.tap import Duplicate, Owned, TapStore, TapTransaction, Unavailable

log = logging.getLogger(__name__)

CANCEL = "x"
"""Reserved option value for the Cancel button."""

_ENDED_BY_A_CHECKIN = (Expect.NOTE, Expect.EMERGENCY_NUMBER)
"""What the bot stops waiting for when a check-in starts."""

STALE_BATCH = 200
"""Idle check-ins closed per transaction by the housekeeping job."""


class Status(StrEnum):
    OK = "ok"
    TOGGLED = "toggled"
    NEED_ONE = "need_one"
    AT_START = "at_start"
    STALE = "stale"  # not this user's, not open any more, or not the current step
    EXPIRED = "expired"  # left too long; closed unfinished
    INVALID = "invalid"  # malformed or unknown option
    CANCELLED = "cancelled"
    NO_CONSENT = "no_consent"
    RESUME_OFFER = "resume_offer"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Screen:
    """One question to show."""

    checkin_id: int
    step: Step
    answers: Answers
    draft: tuple[str, ...]
    can_go_back: bool


@dataclass(frozen=True)
class Summary:
    checkin_id: int
    answers: Answers
    snippets: tuple[Snippet, ...]
    after_advice: bool = False
    """Urgent or emergency advice was given: no tips, and a pointer to the advice instead."""


@dataclass(frozen=True)
class Reply:
    status: Status
    language: str = "en"
    checkin_id: int | None = None
    screen: Screen | None = None
    summary: Summary | None = None
    advice: Advice | None = None
    """The one escalation this tap produced, if any: sent before anything else."""
    ended: bool = False
    """The check-in was closed by emergency advice: nothing follows it."""
    message_id: int | None = None
    """The message that shows this check-in now (to edit in place)."""
    note: str | None = None
    """The note the check-in has already (when asked to add one)."""


def _screen(checkin: CheckIn, state: CheckinState | None = None) -> Screen:
    state = state or CheckinState.from_json(checkin.state)
    return Screen(
        checkin_id=checkin.id,
        step=Step(checkin.step),
        answers=Answers.from_state(state),
        draft=tuple(state.draft),
        can_go_back=bool(state.trail),
    )


def _refused(status: str, step: str, tapped: str, lang: str, checkin_id: int) -> Reply | None:
    """A tap on a check-in that is no longer open at the tapped step: what to say (None when it
    is). An abandoned one has expired; anything else (finished, cancelled, moved on) is stale."""
    if status == repo.ABANDONED:
        return Reply(Status.EXPIRED, lang, checkin_id)
    if status != repo.OPEN or step != tapped:
        return Reply(Status.STALE, lang, checkin_id)
    return None


def _next(
    move: Transition,
    step: str,
    answers: Answers,
    lang: str,
    checkin_id: int,
    message_id: int | None,
    advice: Advice | None = None,
) -> Reply:
    """The check-in goes on at ``step``: the question to show, with what was ticked so far."""
    state = move.state
    return Reply(
        Status.TOGGLED if move.outcome is Outcome.TOGGLED else Status.OK,
        lang,
        checkin_id,
        screen=Screen(
            checkin_id=checkin_id,
            step=Step(step),
            answers=answers,
            draft=tuple(state.draft),
            can_go_back=bool(state.trail),
        ),
        advice=advice,
        message_id=message_id,
    )


def _profile(owned: Owned) -> Profile:
    return Profile(
        bone_risk=owned.bone_risk,
        immunosuppressed=owned.immunosuppressed,
        cancer_history=owned.cancer_history,
    )


class _NeedsFullPath(Exception):
    """The tap is not a common one: its lean transaction rolls back, the ORM path does it."""


class CheckinService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        *,
        outbox: Outbox,
        timeout_minutes: int,
        metrics: Metrics | None = None,
        taps: TapStore | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.sessions = sessions
        self.taps = taps
        """The common tap's transaction on the driver itself (``db.tap``); None: ORM only."""
        self.catalog = catalog
        self.clock = clock
        self.outbox = outbox
        self.advice = CheckinAdvice(outbox, clock)
        """What the answers call for, and storing it (shared with ``bot.text_intake``)."""
        self.engine = Engine(catalog.questionnaire)
        self.timeout_minutes = timeout_minutes

    # --- starting and resuming ---------------------------------------------------------------

    def is_idle(self, checkin: CheckIn) -> bool:
        return self._idle(checkin)

    async def abandon(self, session: AsyncSession, checkin: CheckIn) -> None:
        await self._abandon(session, checkin)

    def _idle(self, checkin: CheckIn) -> bool:
        return self._left_since(checkin.updated_at)

    def _left_since(self, updated_at: datetime) -> bool:
        """Whether a check-in last changed at ``updated_at`` was left too long to carry on."""
        return updated_at < self.clock.now() - timedelta(minutes=self.timeout_minutes)

    async def start(self, telegram_id: int, reminder_delivery_id: int | None = None) -> Reply:
        """Start a check-in, or offer to resume the one in progress. ``reminder_delivery_id``
        links it to the reminder it was started from (the caller has checked the owner)."""
        reply = await self._start(telegram_id, reminder_delivery_id)
        if reply.status is Status.OK:  # committed: a new check-in
            self.metrics.checkins_started.inc()
        return reply

    async def _start(self, telegram_id: int, reminder_delivery_id: int | None) -> Reply:
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return Reply(Status.NO_CONSENT, user.language if user else "en")
            if (Awaiting.decode(user.awaiting) or expect.TIME).what in _ENDED_BY_A_CHECKIN:
                # A new check-in ends the offer to note the last one, and a number asked for
                # in /settings: what is typed from now on is about the check-in.
                user.awaiting = None
            current = await repo.open_for(session, user.id)
            if current is not None and self._idle(current):
                await self._abandon(session, current)
                current = None
            if current is not None:
                return Reply(
                    Status.RESUME_OFFER,
                    user.language,
                    checkin_id=current.id,
                    message_id=current.message_id,
                )
            try:
                async with session.begin_nested():
                    checkin = await self._create(session, user, reminder_delivery_id)
            except IntegrityError:
                # Another /checkin of the same person won the race (at most one open check-in
                # per person is a unique index): offer to carry on with that one.
                current = await repo.open_for(session, user.id)
                if current is None:
                    raise
                return Reply(
                    Status.RESUME_OFFER,
                    user.language,
                    checkin_id=current.id,
                    message_id=current.message_id,
                )
            return Reply(Status.OK, user.language, checkin.id, screen=_screen(checkin))

    async def _create(
        self, session: AsyncSession, user: User, reminder_delivery_id: int | None = None
    ) -> CheckIn:
        now = self.clock.now()
        checkin = CheckIn(
            user_id=user.id,
            reminder_delivery_id=reminder_delivery_id,
            started_at=now,
            updated_at=now,
            status=repo.OPEN,
            step=Step.PAIN.value,
            state=new_state().to_json(),
            version=0,
        )
        session.add(checkin)
        await session.flush()
        log.info("checkin %s started", checkin.id)
        return checkin

    async def _abandon(self, session: AsyncSession, checkin: CheckIn) -> None:
        checkin.status = repo.ABANDONED
        checkin.updated_at = self.clock.now()
        checkin.version += 1
        await self._keep_answers(session, checkin.id, CheckinState.from_json(checkin.state))
        log.info("checkin %s closed unfinished after the time limit", checkin.id)

    async def _keep_answers(
        self, session: AsyncSession, checkin_id: int, state: CheckinState
    ) -> None:
        """A check-in closes: its answers go to the answers table, the record history and
        exports read."""
        await repo.write_answers(session, checkin_id, state.answer_rows())

    async def resume(self, telegram_id: int, checkin_id: int, *, restart: bool = False) -> Reply:
        """Show the current question of an open check-in again, or replace it with a new one."""
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return Reply(Status.STALE)
            checkin, user = found
            if checkin.status != repo.OPEN:
                return Reply(Status.STALE, user.language)
            if self._idle(checkin):
                await self._abandon(session, checkin)
                return Reply(Status.EXPIRED, user.language)
            if restart:
                checkin.status = repo.CANCELLED
                checkin.updated_at = self.clock.now()
                checkin.version += 1
                await self._keep_answers(session, checkin.id, CheckinState.from_json(checkin.state))
                await session.flush()  # closed before the new one opens (one open per person)
                checkin = await self._create(session, user)
            return Reply(
                Status.OK,
                user.language,
                checkin.id,
                screen=_screen(checkin),
                message_id=checkin.message_id,
            )

    async def cancel_open(self, telegram_id: int) -> Reply | None:
        """/cancel during a check-in: cancel the open one as its Cancel button does; None when
        there is none."""
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            current = await repo.open_for(session, user.id) if user is not None else None
            if current is None:
                return None
            checkin_id, step = current.id, current.step
        return await self.answer(telegram_id, checkin_id, step, CANCEL)

    async def has_open(self, telegram_id: int) -> bool:
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            return user is not None and await repo.open_for(session, user.id) is not None

    async def set_message(self, checkin_id: int, message_id: int) -> None:
        """Remember which message shows the check-in, so a resume can find it."""
        async with self.sessions.begin() as session:
            checkin = await session.get(CheckIn, checkin_id)
            if checkin is not None:
                checkin.message_id = message_id

    # --- answering ------------------------------------------------------------------------------

    async def answer(self, telegram_id: int, checkin_id: int, step: str, option: str) -> Reply:
        """Record one tap on a check-in question (see :meth:`_answer`)."""
        reply = await self._answer(telegram_id, checkin_id, step, option)
        if reply.summary is not None or reply.ended:  # committed: the check-in is complete
            self.metrics.checkins_completed.inc()
        return reply

    async def _answer(self, telegram_id: int, checkin_id: int, step: str, option: str) -> Reply:
        """Apply one tap. Every check is made against the database, never the message. The
        common tap (a question answered or ticked, a step back, a tap that changes nothing) and
        the last answer of an ordinary check-in (one that ends with no advice given on this tap)
        are one lean transaction each; the rest (a cancel, a check-in left too long, an
        escalation, emergency advice), and a tap whose connection dropped, take the ORM path."""
        if self.taps is not None and option != CANCEL:
            try:
                return await self._answer_lean(self.taps, telegram_id, checkin_id, step, option)
            except (_NeedsFullPath, Unavailable):
                pass
        return await self._answer_full(telegram_id, checkin_id, step, option)

    async def _answer_lean(
        self, taps: TapStore, telegram_id: int, checkin_id: int, step: str, option: str
    ) -> Reply:
        record = updates.unrecorded()
        try:
            async with taps.begin(record) as tx:
                reply = await self._lean(tx, telegram_id, checkin_id, step, option)
        except Duplicate:
            log.info("update seen before; not processed again")
            raise updates.AlreadyProcessed(record[1] if record else 0) from None
        if record is not None:
            updates.mark_recorded()
        return reply

    async def _lean(
        self, tx: TapTransaction, telegram_id: int, checkin_id: int, step: str, option: str
    ) -> Reply:
        """The common tap and the ordinary last one, decided as :meth:`_answer_full` decides
        them; anything else raises :class:`_NeedsFullPath` before a write."""
        owned = await tx.owned(checkin_id, telegram_id)
        if owned is None:
            return Reply(Status.STALE)
        lang = owned.language
        refused = _refused(owned.status, owned.step, step, lang, checkin_id)
        if refused is not None:
            return refused
        if self._left_since(owned.updated_at):
            raise _NeedsFullPath  # left too long: closed, with its answers kept
        now = self.clock.now()
        move = self._move(owned.state, owned.step, option, lang, checkin_id)
        if isinstance(move, Reply):
            return move
        state = move.state
        answered = move.outcome is Outcome.ADVANCED and move.answered is not None
        if answered and self.advice.decide_for(_profile(owned), state) is not None:
            raise _NeedsFullPath  # an escalation: stored in the outbox with the check-in
        if Tier.of(state.escalated) is Tier.EMERGENCY:
            raise _NeedsFullPath  # closed by the advice, which is sent before anything else
        answers = Answers.from_state(state)
        if move.step == FINISHED:
            return await self._finish_lean(tx, owned, state, answers, now)
        saved = await tx.save(
            owned, step=move.step, state=state.to_json(), now=now, pain_score=answers.pain
        )
        if not saved:
            return Reply(Status.STALE, lang, checkin_id)
        return _next(move, move.step, answers, lang, checkin_id, owned.message_id)

    async def _finish_lean(
        self, tx: TapTransaction, owned: Owned, state: CheckinState, answers: Answers, now: datetime
    ) -> Reply:
        """The last answer, with no advice decided on it: the end as :meth:`_answer_full` and
        :meth:`_finish` make it. Advice from the rules that need history raises
        :class:`_NeedsFullPath` (nothing is written before)."""
        earlier = await tx.earlier(
            owned, since=now - HISTORY_SPAN, limit=HISTORY_WINDOW, question=Step.SYMPTOMS.value
        )
        history = history_of(now, ((c.at, c.pain_score, c.answers) for c in earlier))
        if (
            self.advice.decide_for(_profile(owned), state, history=history, minimum=Tier.SOON)
            is not None
        ):
            raise _NeedsFullPath  # advice at the end: stored in the outbox with the check-in
        last = earlier[0].checkin_id if earlier else None
        summary = await self._summary(
            owned.checkin_id, state, answers, owned.language, lambda: tx.shown(owned, last)
        )
        saved = await tx.finish(
            owned,
            step=FINISHED,
            state=state.to_json(),
            now=now,
            pain_score=answers.pain,
            answers=state.answer_rows(),
            snippets=[s.id for s in summary.snippets],
        )
        if not saved:
            return Reply(Status.STALE, owned.language, owned.checkin_id)
        log.info("checkin %s complete", owned.checkin_id)
        return Reply(
            Status.OK,
            owned.language,
            owned.checkin_id,
            summary=summary,
            message_id=owned.message_id,
        )

    def _move(
        self, state: dict[str, Any], step: str, option: str, lang: str, checkin_id: int
    ) -> Transition | Reply:
        """What ``option`` does on the open check-in's current ``step``; a tap that changes
        nothing (an unknown option, Done with nothing ticked, Back on the first question) is
        answered with its reply instead."""
        move = self.engine.apply(CheckinState.from_json(state), Step(step), option)
        if move.outcome is Outcome.INVALID:
            return Reply(Status.INVALID, lang, checkin_id)
        if move.outcome in (Outcome.NEED_ONE, Outcome.AT_START):
            status = Status.NEED_ONE if move.outcome is Outcome.NEED_ONE else Status.AT_START
            return Reply(status, lang, checkin_id)
        return move

    async def _answer_full(
        self, telegram_id: int, checkin_id: int, step: str, option: str
    ) -> Reply:
        async with self.sessions.begin() as session:
            found = await repo.owned_with_user(session, checkin_id, telegram_id)
            if found is None:
                return Reply(Status.STALE)
            checkin, user = found
            lang = user.language
            refused = _refused(checkin.status, checkin.step, step, lang, checkin.id)
            if refused is not None:
                return refused
            if self._idle(checkin):
                await self._abandon(session, checkin)
                return Reply(Status.EXPIRED, lang, checkin.id)
            now = self.clock.now()
            if option == CANCEL:
                await repo.save_state(
                    session,
                    checkin,
                    step=checkin.step,
                    state=checkin.state,
                    now=now,
                    pain_score=checkin.pain_score,
                    status=repo.CANCELLED,
                )
                await self._keep_answers(session, checkin.id, CheckinState.from_json(checkin.state))
                log.info("checkin %s cancelled", checkin.id)
                return Reply(Status.CANCELLED, lang, checkin.id, message_id=checkin.message_id)

            move = self._move(checkin.state, checkin.step, option, lang, checkin.id)
            if isinstance(move, Reply):
                return move
            state = move.state
            step = move.step
            due: Escalating | None = None
            if move.outcome is Outcome.ADVANCED and move.answered is not None:
                due = self.advice.decide(user, state)
                if Tier.of(state.escalated) is Tier.EMERGENCY:
                    step = FINISHED  # nothing more is asked after emergency advice
                elif due is not None:
                    following = next_step(state, move.answered)
                    step = following.value if following else FINISHED
            answers = Answers.from_state(state)
            finished = step == FINISHED
            saved = await repo.save_state(
                session,
                checkin,
                step=step,
                state=state.to_json(),
                now=now,
                pain_score=answers.pain,
                status=repo.COMPLETE if finished else None,
                finished_at=now if finished else None,
            )
            if not saved:
                # A double tap or another instance got there first: nothing of this tap is
                # stored, and above all no second escalation.
                return Reply(Status.STALE, lang, checkin.id)
            advice = await self.advice.record(session, user, checkin.id, due)

            if finished:
                await self._keep_answers(session, checkin.id, state)
                if Tier.of(state.escalated) is Tier.EMERGENCY:
                    log.info("checkin %s closed after emergency advice", checkin.id)
                    return Reply(
                        Status.OK,
                        lang,
                        checkin.id,
                        advice=advice,
                        ended=True,
                        message_id=checkin.message_id,
                    )
                summary, late = await self._finish(session, user, checkin, state, answers)
                log.info("checkin %s complete", checkin.id)
                return Reply(
                    Status.OK,
                    lang,
                    checkin.id,
                    summary=summary,
                    advice=advice or late,
                    message_id=checkin.message_id,
                )
            return _next(move, step, answers, lang, checkin.id, checkin.message_id, advice)

    async def _finish(
        self,
        session: AsyncSession,
        user: User,
        checkin: CheckIn,
        state: CheckinState,
        answers: Answers,
    ) -> tuple[Summary, Advice | None]:
        """At the end: the rules that need history (soon advice, and same-day advice for very
        severe pain with nothing to compare), then snippets unless urgent advice was given."""
        now = self.clock.now()
        earlier = await self.advice.earlier(session, user, checkin.id)
        due = self.advice.decide(
            user, state, history=self.advice.history(earlier), minimum=Tier.SOON
        )
        advice = await self.advice.record(session, user, checkin.id, due)
        if advice is not None:
            # The row was saved with its version check a moment ago in this transaction.
            checkin.state = state.to_json()

        async def shown() -> list[str]:
            # The last check-in is the newest of ``earlier`` when that holds any; only a person
            # back after weeks needs it looked up.
            last = earlier[:1] or await repo.recent_complete(
                session, user.id, 1, exclude=checkin.id
            )
            return await repo.snippet_ids_of(session, last[0].id) if last else []

        summary = await self._summary(checkin.id, state, answers, user.language, shown)
        session.add_all(
            SnippetDelivery(
                user_id=user.id, checkin_id=checkin.id, snippet_id=s.id, delivered_at=now
            )
            for s in summary.snippets
        )
        return summary, advice

    async def _summary(
        self,
        checkin_id: int,
        state: CheckinState,
        answers: Answers,
        language: str,
        shown: Callable[[], Awaitable[Collection[str]]],
    ) -> Summary:
        """The summary at the end: no tips after urgent or emergency advice (a pointer to it
        instead); otherwise tips that fit the answers, not those shown after the last check-in
        (``shown`` reads them, only when tips are chosen)."""
        if Tier.of(state.escalated) >= Tier.URGENT:
            return Summary(checkin_id, answers, (), after_advice=True)
        snippets = choose(answers, self.catalog.snippets_for(language), await shown())
        return Summary(checkin_id, answers, tuple(snippets))

    # --- housekeeping -----------------------------------------------------------------------

    async def close_stale(self) -> int:
        """Close every check-in left idle past the time limit; it never counts as complete."""
        now = self.clock.now()
        closed = 0
        while True:
            async with self.sessions.begin() as session:
                batch = await repo.stale(
                    session, now - timedelta(minutes=self.timeout_minutes), STALE_BATCH
                )
                if not batch:
                    break
                closed += await repo.close(session, [i for i, _ in batch], repo.ABANDONED, now)
                for checkin_id, raw in batch:
                    await self._keep_answers(session, checkin_id, CheckinState.from_json(raw))
            if len(batch) < STALE_BATCH:
                break
        if closed:
            log.info("closed %d unfinished check-ins", closed)
        return closed
