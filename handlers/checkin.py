"""The check-in conversation: /checkin, every button on its questions, resume, and the note."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Message, MessageEntity, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.awaiting import Expect
from bot.checkin_service import Reply, Status
from bot.findings import decode_codes
from bot.invites import invite_token
from bot.notes import Removal
from bot.text_intake import TextKind, TextOutcome
from bot.triage import Tier
from handlers import escalations, settings, views
from handlers.callback_data import CheckinTap, FindingTap, NoteTap, ResumeTap
from handlers.common import (
    Markup,
    answer_quietly,
    edit,
    freeze,
    language_of_user,
    message_of,
    unparsed,
    who,
)
from handlers.context import Context
from handlers.onboarding import zone_typed

log = logging.getLogger(__name__)

TypedHandler = Callable[[Update, Context, str, str], Awaitable[None]]
_TYPED: dict[Expect, TypedHandler] = {
    Expect.TIMEZONE: zone_typed,
    Expect.TIME: settings.time_typed,
    Expect.PAUSE_DATE: settings.pause_date_typed,
    Expect.EMERGENCY_NUMBER: settings.number_typed,
}
"""Who handles an ordinary message the bot asked for, by what it asked for: one for each of
``bot.awaiting.TYPED_INPUT`` (tests/test_no_dead_ends.py checks)."""

_TOASTS = {
    Status.NEED_ONE: "checkin.pick_one",
    Status.STALE: "checkin.stale",
    Status.INVALID: "error.callback",
    Status.EXPIRED: "checkin.expired",
}


async def checkin_command(update: Update, context: Context) -> None:
    """/checkin: start a check-in, or offer to carry on with the open one."""
    services = context.services
    user_id, chat_id, language_code = who(update)
    reply = await services.checkins.start(user_id)
    message = message_of(update)
    if reply.status is Status.NO_CONSENT:
        lang = await language_of_user(context, user_id, language_code)
        await message.reply_text(services.catalog.text("consent.needed", lang))
        return
    if reply.status is Status.RESUME_OFFER and reply.checkin_id is not None:
        text, keyboard = views.resume_offer(services.catalog, reply.language, reply.checkin_id)
        await message.reply_text(text, reply_markup=keyboard)
        return
    await _send_screen(context, chat_id, reply)


async def _send_screen(context: Context, chat_id: int, reply: Reply) -> None:
    """Send the current question (or the summary) as a new message and remember it."""
    services = context.services
    if reply.screen is not None:
        text, buttons = views.question(
            services.catalog, services.engine, reply.language, reply.screen
        )
        params = {"chat_id": chat_id, "text": text, "reply_markup": buttons}
        sent = await unparsed(context.bot, "sendMessage", params)
        await services.checkins.set_message(reply.screen.checkin_id, int(sent["message_id"]))
    elif reply.summary is not None:
        text, keyboard = views.summary(
            services.catalog, services.engine, reply.language, reply.summary
        )
        message = await context.bot.send_message(chat_id, text, reply_markup=keyboard)
        await services.checkins.set_message(reply.summary.checkin_id, message.message_id)


async def tap(update: Update, context: Context, data: CheckinTap) -> None:
    """A button on a check-in question."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, _ = who(update)
    reply = await services.checkins.answer(user_id, data.checkin_id, data.step, data.option)
    catalog = services.catalog
    if reply.status in _TOASTS:
        await answer_quietly(query, catalog.text(_TOASTS[reply.status], reply.language))
        if reply.status is Status.EXPIRED:
            await freeze(query, catalog.text("checkin.expired", reply.language))
        return
    if reply.status is Status.AT_START:
        await answer_quietly(query)
        return
    if reply.advice is not None:
        # The advice comes first, as a new message, even before the tap is acknowledged.
        await escalations.send_now(context, reply.advice)
    await answer_quietly(query)
    if reply.status is Status.CANCELLED:
        await edit(query, catalog.text("checkin.cancelled", reply.language))
        return
    if reply.advice is not None:
        # The old question is frozen. After emergency advice nothing follows; otherwise the
        # check-in (or its summary) carries on below the advice.
        below = "checkin.see_advice" if reply.ended else "checkin.resent_below"
        await freeze(query, catalog.text(below, reply.language))
        if not reply.ended:
            await _send_screen(context, chat_id, reply)
        await escalations.alert_caregivers(context, reply.advice.escalation_id)
        return
    keyboard: Markup | None
    if reply.screen is not None:
        text, keyboard = views.question(catalog, services.engine, reply.language, reply.screen)
    elif reply.summary is not None:
        text, keyboard = views.summary(catalog, services.engine, reply.language, reply.summary)
    else:
        return
    if not await edit(query, text, keyboard):
        await _send_screen(context, chat_id, reply)


async def resume(update: Update, context: Context, data: ResumeTap) -> None:
    """Carry on with an open check-in, or start again."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, _ = who(update)
    reply = await services.checkins.resume(user_id, data.checkin_id, restart=data.restart)
    if reply.status in _TOASTS:
        await query.answer(services.catalog.text(_TOASTS[reply.status], reply.language))
        await freeze(query, services.catalog.text(_TOASTS[reply.status], reply.language))
        return
    await query.answer()
    await freeze(query, services.catalog.text("checkin.resumed_below", reply.language))
    await _send_screen(context, chat_id, reply)


async def note(update: Update, context: Context, data: NoteTap) -> None:
    """Add a note to a finished check-in, or stop adding one."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language_code = who(update)
    catalog = services.catalog
    if data.remove:
        removed = await services.notes.remove_note(user_id, data.checkin_id, data.shown)
        await query.answer()
        if removed is None:
            lang = await language_of_user(context, user_id, language_code)
            await freeze(query, catalog.text("checkin.stale", lang))
            return
        lang, removal = removed
        key = "note.removed" if removal is Removal.REMOVED else "note.changed"
        await freeze(query, catalog.text(key, lang))
        return
    if data.cancel:
        stopped = await services.notes.stop_note(user_id, data.checkin_id)
        await query.answer()
        if stopped is None:
            lang = await language_of_user(context, user_id, language_code)
            await freeze(query, catalog.text("checkin.stale", lang))
            return
        lang, kept = stopped
        # The prompt's Cancel after a note was saved: the note stays, and it says so.
        await freeze(query, catalog.text("note.kept" if kept else "note.closed", lang))
        return
    reply = await services.notes.request_note(user_id, data.checkin_id)
    if reply.status is not Status.OK or reply.checkin_id is None:
        await query.answer(catalog.text("checkin.stale", reply.language))
        return
    await query.answer()
    text, keyboard = views.note_prompt(catalog, reply.language, reply.checkin_id, reply.note)
    await context.bot.send_message(chat_id, text, reply_markup=keyboard)


async def text_message(update: Update, context: Context) -> None:
    """Free text, wherever it arrives: read for warning signs first, then kept with the check-in
    it is about, or taken as the time zone, time or date the bot asked for."""
    services = context.services
    user_id, chat_id, language_code = who(update)
    message = message_of(update)
    text = message.text or message.caption or ""  # a photo's caption is read like a message
    catalog = services.catalog
    outcome = await services.text.receive(user_id, text)
    lang = outcome.language
    if outcome.unread and outcome.kind is not TextKind.NO_CONSENT:
        # Never silence about a warning sign that could not be read: what to do instead.
        await message.reply_text(catalog.text("text.read_failed", lang))
    if outcome.kind is TextKind.NO_CONSENT:
        await message.reply_text(
            catalog.text("consent.needed", catalog.language_for(language_code))
        )
        return
    if outcome.kind is TextKind.TYPED_INPUT:
        assert outcome.awaiting is not None
        await _TYPED[outcome.awaiting.what](update, context, text, lang)
        return
    if outcome.kind is TextKind.TOO_LONG:
        limit = services.settings.note_max_chars
        await message.reply_text(catalog.text("note.too_long", lang, limit=limit))
        return
    await _after_text(context, chat_id, outcome, message)


async def edited_text(update: Update, context: Context) -> None:
    """A message the patient edited: read again for warning signs only. A sign the edit added
    gets its advice at once; otherwise nothing is said (the first version was answered)."""
    services = context.services
    user_id, chat_id, language_code = who(update)
    message = message_of(update)
    outcome = await services.text.receive(
        user_id, message.text or message.caption or "", signs_only=True
    )
    if outcome.kind is TextKind.NOTHING:
        if outcome.unread:
            lang = await language_of_user(context, user_id, language_code)
            await message.reply_text(services.catalog.text("text.read_failed", lang))
        return
    if outcome.kind in (TextKind.NO_CONSENT, TextKind.TYPED_INPUT, TextKind.TOO_LONG):
        return  # not consented, only a guess beside an answer awaited, or too long to keep
    await _after_text(context, chat_id, outcome, message)


async def command_words(update: Update, context: Context) -> None:
    """Words typed after a command ("/checkin since this morning I can't pee"), before the
    command runs: read for warning signs as any message is. A sign gets its advice or question
    first; after emergency advice the command does not run (nothing milder follows it)."""
    message = message_of(update)
    words = _after_command(message)
    if not words:
        return
    user_id, chat_id, language_code = who(update)
    outcome = await context.services.text.receive(user_id, words, signs_only=True)
    if outcome.unread:
        lang = await language_of_user(context, user_id, language_code)
        await message.reply_text(context.services.catalog.text("text.read_failed", lang))
        return
    if outcome.advice is None and outcome.kind is not TextKind.ASK:
        return  # nothing found, or nothing new to say: the command answers
    # The command answers next (it may end or restart the check-in): no pointing up to it.
    await _after_text(context, chat_id, outcome, message, point_up=False)
    if outcome.advice is not None and outcome.advice.tier is Tier.EMERGENCY:
        raise ApplicationHandlerStop


def _after_command(message: Message) -> str:
    """What to read of a message that starts with a command: all of it but the slash ("/can't
    pee since this morning" is the command "/can" to Telegram), or "" for a bare command."""
    text = (message.text or "").strip()
    first = message.entities[0] if message.entities else None
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return ""
    rest = text[first.length :].strip()
    if not rest or (text.startswith("/start") and invite_token(rest)):
        return ""  # a bare command, or an invite link's token: no words to read
    return text[1:]


async def not_words(update: Update, context: Context) -> None:
    """A voice message, sticker or picture without words: say so, with the safety line."""
    user_id, _, language_code = who(update)
    lang = await language_of_user(context, user_id, language_code)
    await message_of(update).reply_text(context.services.catalog.text("text.only_words", lang))


async def _after_text(
    context: Context,
    chat_id: int,
    outcome: TextOutcome,
    message: Message | None,
    *,
    point_up: bool = True,
) -> None:
    """Advice first; then, unless it was urgent or an emergency, a short word on where the text
    went. A hedged warning sign gets a yes/no question instead of a guess."""
    services = context.services
    catalog = services.catalog
    lang = outcome.language
    if outcome.advice is not None:
        await escalations.send_now(context, outcome.advice)
        if outcome.ended_checkin_message:
            await _freeze_message(context, chat_id, outcome.ended_checkin_message, lang)
        if outcome.ask:
            # A hedged sign in the same message that could mean more: asked, not dropped.
            text, keyboard = views.ask_new(catalog, lang, outcome.ask, outcome.checkin_id)
            await context.bot.send_message(chat_id, text, reply_markup=keyboard)
        elif outcome.open_checkin and point_up:
            # Urgent or soon advice in the middle of a check-in: its question is still above.
            await context.bot.send_message(chat_id, catalog.text("text.added", lang))
        await escalations.alert_caregivers(context, outcome.advice.escalation_id)
        return
    if outcome.kind is TextKind.ASK:
        text, keyboard = views.ask_new(
            catalog, lang, outcome.ask, outcome.checkin_id, outcome.guessed
        )
        await context.bot.send_message(chat_id, text, reply_markup=keyboard)
        return
    kept = outcome.also or outcome.kind
    if outcome.open_checkin:
        reply_id = "text.added"
    elif kept is TextKind.NOTE_SAVED:
        reply_id = "note.saved"
    elif kept is TextKind.ADDED_TO_LAST:
        reply_id = "text.noted"
    elif await _profile_pending(context, chat_id):
        # Typed instead of tapping a profile question ("yes I take ocrevus"): say how to
        # answer, and ask the questions again from the first, as after a round left half-way.
        from handlers.onboarding import ask_profile

        t = catalog.text
        yes, no, unsure = (t(f"profile.{a}", lang) for a in ("yes", "no", "unsure"))
        await context.bot.send_message(
            chat_id, t("profile.tap", lang, yes=yes, no=no, unsure=unsure)
        )
        await ask_profile(context, chat_id, lang, 0)
        return
    else:
        reply_id = "text.not_kept"  # short: where words are kept, and how to start
    reply = catalog.text(reply_id, lang)
    if lang not in catalog.red_flag_sources or lang in catalog.red_flag_drafts:
        # Words in this language are not read for warning signs yet (or may be missed): said
        # every time, with what to do instead, so nobody believes a warning sign was heard.
        # Before text.not_kept, which ends with the emergency line, without saying it twice.
        caveat = "text.not_read" if lang not in catalog.red_flag_sources else "text.partly_read"
        if reply_id == "text.not_kept":
            caveat += "_brief"
        reply = f"{catalog.text(caveat, lang)}\n\n{reply}"
    await context.bot.send_message(chat_id, reply)


async def _profile_pending(context: Context, user_id: int) -> bool:
    """Whether the person is setting up and a profile question (asked once a zone is saved) is
    waiting for a tap."""
    person = await context.services.users.get(user_id)
    return (
        person is not None
        and person.consented
        and person.timezone is not None
        and not person.profile_answered
    )


async def _freeze_message(context: Context, chat_id: int, message_id: int, lang: str) -> None:
    """Take the buttons off a question the check-in has moved past; best effort."""
    try:
        await context.bot.edit_message_text(
            context.services.catalog.text("checkin.answered", lang), chat_id, message_id
        )
    except TelegramError as exc:
        log.info("could not freeze an old question: %s", type(exc).__name__)


async def finding(update: Update, context: Context, data: FindingTap) -> None:
    """The answer to "Is this new since your last check-in?"."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language_code = who(update)
    codes = decode_codes(data.codes)
    if not codes:
        lang = await language_of_user(context, user_id, language_code)
        await query.answer(services.catalog.text("error.callback", lang))
        return
    outcome = await services.text.confirm(user_id, codes, data.checkin_id, data.is_new)
    if outcome.advice is not None:
        await escalations.send_now(context, outcome.advice)  # before anything else
    await answer_quietly(query)
    lang = outcome.language
    if outcome.kind is TextKind.NO_CONSENT:
        await freeze(query, services.catalog.text("consent.needed", lang))
        return
    if outcome.advice is not None:
        await freeze(query, services.catalog.text("checkin.answered", lang))
        if outcome.ended_checkin_message:
            await _freeze_message(context, chat_id, outcome.ended_checkin_message, lang)
        await escalations.alert_caregivers(context, outcome.advice.escalation_id)
        return
    await freeze(
        query, services.catalog.text("ask.not_new" if not data.is_new else "checkin.answered", lang)
    )
