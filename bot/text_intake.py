"""Free text, wherever it arrives: a note, a message in the middle of a check-in, after the
summary, or out of the blue. Every message is read for warning signs first; then it is kept where
it belongs (the note of the check-in it is about) or handed back to the typed input the bot was
waiting for (a time zone, a time, a date). No Telegram imports.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import safety_net
from bot.awaiting import TYPED_INPUT, Awaiting, Expect
from bot.checkin import FINISHED, Answers, CheckinState
from bot.checkin_service import CheckinService
from bot.escalations import Advice
from bot.findings import Code, Finding, present, uncertain
from bot.sanitize import clean_text
from bot.triage import Facts, Tier, assess
from bot.users import profile_of
from db.models import CheckIn, Escalation, User
from db.repo import checkins as repo
from db.repo import users as user_repo

log = logging.getLogger(__name__)

NOTE_SEPARATOR = "\n"
NOTE_KEPT_CHARS = 16_384
"""What a check-in's note keeps of typed messages (the newest, if there were more)."""


class TextKind(StrEnum):
    NO_CONSENT = "no_consent"
    ESCALATED = "escalated"
    """Advice was stored (``advice``); it may also have been saved as a note."""
    ASK = "ask"
    """A warning sign was hedged about: ask whether it is new (``ask``)."""
    NOTE_SAVED = "note_saved"
    """The note the patient was asked for."""
    ADDED_TO_LAST = "added_to_last"
    """Added to the note of a check-in finished a moment ago."""
    ADDED_TO_CHECKIN = "added_to_checkin"
    """Added to the note of the open check-in."""
    TOO_LONG = "too_long"
    TYPED_INPUT = "typed_input"
    """Nothing urgent: the text answers what the bot was waiting for (``awaiting``)."""
    NOTHING = "nothing"


@dataclass(frozen=True)
class TextOutcome:
    kind: TextKind
    language: str = "en"
    advice: Advice | None = None
    ask: frozenset[Code] = frozenset()
    checkin_id: int | None = None
    open_checkin: bool = False
    """A check-in is still open after this text (remind the patient to tap)."""
    ended_checkin_message: int | None = None
    """Emergency advice closed an open check-in; this message showed its question."""
    awaiting: Awaiting | None = None
    also: TextKind | None = None
    """What else happened beside an escalation or a question (the note was saved...)."""
    unread: bool = False
    """The text could not be read for warning signs (a fault): the person is told so."""
    guessed: bool = False
    """The sign in ``ask`` is the safety net's guess, not words the patterns read: the question
    asks whether the person has it at all (bot/safety_net.py)."""


Reader = Callable[[str], Awaitable[tuple[Finding, ...]]]


class TextIntake:
    def __init__(
        self,
        checkins: CheckinService,
        read: Reader,
        *,
        note_max_chars: int,
        recent: timedelta = timedelta(hours=2),
    ) -> None:
        self.checkins = checkins
        self.sessions = checkins.sessions
        self.read_findings = read
        self.note_max_chars = note_max_chars
        self.recent = recent
        """Text this soon after a check-in finished is taken as being about it."""

    async def receive(
        self, telegram_id: int, text: str, *, signs_only: bool = False
    ) -> TextOutcome:
        """Read one message and act on it: escalate, ask, keep it, or hand it back.

        ``signs_only``: words that were answered some other way, read for warning signs only:
        an edited message (answered and kept when it was first sent; the new wording is kept
        beside the first) or the words typed after a command (the command answers them). A
        sign found gets its advice or question; without any, nothing is done (``NOTHING``)."""
        text = clean_text(text)
        try:
            # Read in a worker process (bot/reading.py): other people never wait behind it.
            findings = await self.read_findings(text)
        except Exception as exc:  # a fault in the reader itself: the text is kept all the same
            # The class only, never the text.
            log.error("typed text could not be read for warning signs (%s)", type(exc).__name__)
            if signs_only:
                return TextOutcome(TextKind.NOTHING, unread=True)
            return replace(await self._act(telegram_id, text, ()), unread=True)
        if signs_only and not findings:
            return TextOutcome(TextKind.NOTHING)
        return await self._act(telegram_id, text, findings)

    async def _act(self, telegram_id: int, text: str, findings: tuple[Finding, ...]) -> TextOutcome:
        found, hedged = present(findings), uncertain(findings)
        guessed = frozenset(f.code for f in findings if f.reason == safety_net.REASON) & hedged
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return TextOutcome(TextKind.NO_CONSENT, user.language if user else "en")
            lang = user.language
            waiting = Awaiting.decode(user.awaiting)
            # The answer the bot asked for (a time, a place): a guess does not hold it up.
            answers = waiting is not None and waiting.what in TYPED_INPUT
            if answers and not found and hedged <= guessed:
                return TextOutcome(TextKind.TYPED_INPUT, lang, awaiting=waiting)
            checkin, kept = await self._keep(session, user, waiting, text)
            if kept is TextKind.TOO_LONG and not found and not hedged:
                return TextOutcome(
                    TextKind.TOO_LONG, lang, checkin_id=checkin.id if checkin else None
                )
            advice: Advice | None = None
            ended: int | None = None
            is_open = checkin is not None and checkin.status == repo.OPEN
            if found:
                advice, ended = await self._escalate(session, user, checkin, found)
                is_open = is_open and ended is None
            ask = self._worth_asking(user, checkin, found, hedged, advice)
            if advice:
                outcome_kind = TextKind.ESCALATED
            elif ask:
                outcome_kind = TextKind.ASK
            else:
                outcome_kind = kept  # nothing new to advise: say where the text was kept
            return TextOutcome(
                outcome_kind,
                lang,
                advice=advice,
                ask=ask,
                checkin_id=checkin.id if checkin else None,
                open_checkin=is_open,
                ended_checkin_message=ended,
                also=kept,
                guessed=bool(ask) and ask <= guessed,
            )

    def _worth_asking(
        self,
        user: User,
        checkin: CheckIn | None,
        found: frozenset[Code],
        hedged: frozenset[Code],
        advice: Advice | None,
    ) -> frozenset[Code]:
        """Hedged signs worth a "Is this new?" question: those that, if new, would raise the
        advice above what this message (and its check-in) already got."""
        if not hedged:
            return frozenset()
        state = CheckinState.from_json(checkin.state) if checkin else CheckinState()
        given = max(Tier.of(state.escalated), advice.tier if advice else Tier.NONE)
        answers = Answers.from_state(state)
        facts = Facts(answers.reported | found | hedged, answers, profile_of(user))
        return hedged if assess(facts).tier > given else frozenset()

    async def confirm(
        self, telegram_id: int, codes: frozenset[Code], checkin_id: int | None, is_new: bool
    ) -> TextOutcome:
        """The answer to "Is this new?": yes counts the signs as reported."""
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return TextOutcome(TextKind.NO_CONSENT, user.language if user else "en")
            if not is_new:
                return TextOutcome(TextKind.NOTHING, user.language)
            checkin = None
            if checkin_id is not None:
                found = await repo.owned_with_user(session, checkin_id, telegram_id)
                checkin = found[0] if found else None
            advice, ended = await self._escalate(session, user, checkin, codes)
            return TextOutcome(
                TextKind.ESCALATED if advice else TextKind.NOTHING,
                user.language,
                advice=advice,
                checkin_id=checkin.id if checkin else None,
                open_checkin=checkin is not None and checkin.status == repo.OPEN and not ended,
                ended_checkin_message=ended,
            )

    async def _keep(
        self, session: AsyncSession, user: User, waiting: Awaiting | None, text: str
    ) -> tuple[CheckIn | None, TextKind]:
        """Store the text with the check-in it is about: the note asked for, the open check-in,
        or one finished a moment ago. Returns that check-in and what was done."""
        if waiting is not None and waiting.what is Expect.NOTE and waiting.target is not None:
            checkin = await self._own(session, user, waiting.target)
            if len(text) > self.note_max_chars:
                return checkin, TextKind.TOO_LONG
            user.awaiting = None
            if checkin is not None:
                checkin.note = text
                checkin.version += 1
                return checkin, TextKind.NOTE_SAVED
        open_checkin = await repo.open_for(session, user.id, lock=True)
        if open_checkin is not None and self.checkins.is_idle(open_checkin):
            # Left long ago: closed as it would be on its next tap; the text stands alone.
            await self.checkins.abandon(session, open_checkin)
            open_checkin = None
        if open_checkin is not None:
            self._append(open_checkin, text)
            return open_checkin, TextKind.ADDED_TO_CHECKIN
        latest = await self._latest_finished(session, user)
        if latest is not None:
            self._append(latest, text)
            return latest, TextKind.ADDED_TO_LAST
        return None, TextKind.NOTHING

    def _append(self, checkin: CheckIn, text: str) -> None:
        kept = (checkin.note + NOTE_SEPARATOR + text) if checkin.note else text
        # Bounded, so a flood cannot grow one row without end; a whole message is always kept.
        checkin.note = kept[-max(NOTE_KEPT_CHARS, len(text)) :]
        checkin.version += 1

    async def _own(self, session: AsyncSession, user: User, checkin_id: int) -> CheckIn | None:
        checkin = await session.get(CheckIn, checkin_id)
        return checkin if checkin is not None and checkin.user_id == user.id else None

    async def _latest_finished(self, session: AsyncSession, user: User) -> CheckIn | None:
        since = self.checkins.clock.now() - self.recent
        result = await session.execute(
            select(CheckIn)
            .where(
                CheckIn.user_id == user.id,
                CheckIn.status == repo.COMPLETE,
                CheckIn.finished_at >= since,
            )
            .order_by(CheckIn.finished_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def _recent_tier(self, session: AsyncSession, user: User) -> str:
        since = self.checkins.clock.now() - self.recent
        tiers = (
            await session.scalars(
                select(Escalation.tier).where(
                    Escalation.user_id == user.id,
                    Escalation.checkin_id.is_(None),
                    Escalation.created_at >= since,
                )
            )
        ).all()
        return max(tiers, key=lambda t: Tier.of(t), default="none")

    async def _escalate(
        self,
        session: AsyncSession,
        user: User,
        checkin: CheckIn | None,
        codes: frozenset[Code],
    ) -> tuple[Advice | None, int | None]:
        """Escalate typed warning signs: within the check-in they are about (one message per
        tier per check-in), or on their own. Emergency advice closes an open check-in."""
        if checkin is None:
            # Outside a check-in, advice given for typed signs in the last while counts as this
            # message's: never a milder message after it.
            given = await self._recent_tier(session, user)
            state = CheckinState(text_findings=sorted(c.value for c in codes), escalated=given)
            due = self.checkins.advice.decide(user, state, minimum=Tier.SOON)
            return await self.checkins.advice.record(session, user, None, due), None
        state = CheckinState.from_json(checkin.state)
        state.text_findings = sorted({*state.text_findings, *(c.value for c in codes)})
        is_open = checkin.status == repo.OPEN
        # Typed signs are advised on at once, "soon" ones too: a check-in left unfinished must
        # not hold them back. The version moves on, so a tap based on the old state is refused.
        due = self.checkins.advice.decide(user, state, minimum=Tier.SOON)
        checkin.state = state.to_json()
        checkin.version += 1
        advice = await self.checkins.advice.record(session, user, checkin.id, due)
        ended = None
        if is_open and Tier.of(state.escalated) is Tier.EMERGENCY:
            now = self.checkins.clock.now()
            checkin.status = repo.COMPLETE
            checkin.step = FINISHED
            checkin.finished_at = now
            checkin.updated_at = now
            ended = checkin.message_id or 0
            log.info("checkin %s closed after emergency advice", checkin.id)
        if checkin.status != repo.OPEN:
            # Closed (now, or earlier and the text was added to it): the record is written.
            await repo.write_answers(session, checkin.id, state.answer_rows())
        return advice, ended
