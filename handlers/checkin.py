"""The check-in conversation: /checkin, every button on its questions, resume, and the note."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ParseMode

from bot.checkin_service import Advice, Reply, Status
from bot.users import AWAIT_NOTE, AWAIT_PAUSE_DATE, AWAIT_TIME, AWAIT_TIMEZONE
from handlers import caregivers, settings, views
from handlers.callback_data import CheckinTap, NoteTap, ResumeTap
from handlers.common import edit, freeze, message_of, who
from handlers.context import Context
from handlers.onboarding import zone_typed

log = logging.getLogger(__name__)

_TOASTS = {
    Status.NEED_ONE: "checkin.pick_one",
    Status.STALE: "checkin.stale",
    Status.INVALID: "error.callback",
    Status.EXPIRED: "checkin.expired",
}


async def checkin_command(update: Update, context: Context) -> None:
    """/checkin: start a check-in, or offer to carry on with the open one."""
    services = context.services
    user_id, chat_id, _ = who(update)
    reply = await services.checkins.start(user_id)
    message = message_of(update)
    if reply.status is Status.NO_CONSENT:
        await message.reply_text(services.catalog.text("consent.needed", reply.language))
        return
    if reply.status is Status.RESUME_OFFER and reply.checkin_id is not None:
        text, keyboard = views.resume_offer(services.catalog, reply.language, reply.checkin_id)
        await message.reply_text(text, reply_markup=keyboard)
        return
    await _send_screen(context, chat_id, reply)


async def _send_screen(context: Context, chat_id: int, reply: Reply) -> Message | None:
    """Send the current question (or the summary) as a new message and remember it."""
    services = context.services
    if reply.screen is not None:
        text, keyboard = views.question(
            services.catalog, services.engine, reply.language, reply.screen
        )
        checkin_id = reply.screen.checkin_id
    elif reply.summary is not None:
        text, keyboard = views.summary(
            services.catalog, services.engine, reply.language, reply.summary
        )
        checkin_id = reply.summary.checkin_id
    else:
        return None
    sent = await context.bot.send_message(chat_id, text, reply_markup=keyboard)
    await services.checkins.set_message(checkin_id, sent.message_id)
    return sent


async def _send_advice(context: Context, chat_id: int, reply: Reply, advice: Advice) -> None:
    """The advice to the patient. Caregivers are alerted afterwards (``_alert_caregivers``), once
    the patient's own screen is up to date, so their messages never hold the patient up."""
    services = context.services
    if advice.tier.value == "red":
        text = views.red(services.catalog, reply.language, advice)
        await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)
    else:
        text = views.amber(services.catalog, reply.language, advice)
        await context.bot.send_message(chat_id, text)
    await services.checkins.mark_sent(advice.escalation_id)


async def _alert_caregivers(context: Context, chat_id: int, reply: Reply) -> None:
    # In private chats the chat id is the person's Telegram id.
    for advice in (reply.red, reply.amber):
        if advice is not None:
            await caregivers.alert(context, chat_id, advice)


async def tap(update: Update, context: Context, data: CheckinTap) -> None:
    """A button on a check-in question."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, _ = who(update)
    reply = await services.checkins.answer(user_id, data.checkin_id, data.step, data.option)
    catalog = services.catalog
    if reply.status in _TOASTS:
        await query.answer(catalog.text(_TOASTS[reply.status], reply.language))
        if reply.status is Status.EXPIRED:
            await freeze(query, catalog.text("checkin.expired", reply.language))
        return
    if reply.status is Status.AT_START:
        await query.answer()
        return
    await query.answer()
    if reply.status is Status.CANCELLED:
        await edit(query, catalog.text("checkin.cancelled", reply.language))
        return
    if reply.red is not None:
        # Red flags come first, as a new message, before any further question.
        await _send_advice(context, chat_id, reply, reply.red)
        await freeze(query, catalog.text("checkin.resent_below", reply.language))
        await _send_screen(context, chat_id, reply)
    elif reply.screen is not None:
        text, keyboard = views.question(catalog, services.engine, reply.language, reply.screen)
        if not await edit(query, text, keyboard):
            await _send_screen(context, chat_id, reply)
    elif reply.summary is not None:
        text, keyboard = views.summary(catalog, services.engine, reply.language, reply.summary)
        if not await edit(query, text, keyboard):
            await _send_screen(context, chat_id, reply)
    if reply.amber is not None:
        await _send_advice(context, chat_id, reply, reply.amber)
    await _alert_caregivers(context, chat_id, reply)


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
    await freeze(query, services.catalog.text("checkin.resent_below", reply.language))
    await _send_screen(context, chat_id, reply)


async def note(update: Update, context: Context, data: NoteTap) -> None:
    """Add a note to a finished check-in, or stop adding one."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, _ = who(update)
    if data.cancel:
        await services.users.set_awaiting(user_id, None)
        await query.answer()
        person = await services.users.get(user_id)
        await freeze(
            query, services.catalog.text("note.closed", person.language if person else "en")
        )
        return
    reply = await services.checkins.request_note(user_id, data.checkin_id)
    if reply.status is not Status.OK or reply.checkin_id is None:
        await query.answer(services.catalog.text("checkin.stale", reply.language))
        return
    await query.answer()
    text, keyboard = views.note_prompt(services.catalog, reply.language, reply.checkin_id)
    await context.bot.send_message(chat_id, text, reply_markup=keyboard)


async def text_message(update: Update, context: Context) -> None:
    """Free text: a note or a time zone when one was asked for; otherwise a gentle hint."""
    services = context.services
    user_id, chat_id, language_code = who(update)
    message = message_of(update)
    text = message.text or ""
    person = await services.users.get(user_id)
    catalog = services.catalog
    if person is None or not person.consented:
        lang = catalog.language_for(language_code)
        await message.reply_text(catalog.text("consent.needed", lang))
        return
    if person.awaiting == AWAIT_TIMEZONE:
        await zone_typed(update, context, text, person.language)
        return
    if person.awaiting == AWAIT_TIME:
        await settings.time_typed(update, context, text, person.language)
        return
    if person.awaiting == AWAIT_PAUSE_DATE:
        await settings.pause_date_typed(update, context, text, person.language)
        return
    if (person.awaiting or "").startswith(AWAIT_NOTE):
        reply = await services.checkins.save_note(user_id, text)
        if reply.status is Status.TOO_LONG:
            await message.reply_text(
                catalog.text(
                    "note.too_long", reply.language, limit=services.settings.note_max_chars
                )
            )
            return
        if reply.red is not None:
            await _send_advice(context, chat_id, reply, reply.red)
        await message.reply_text(catalog.text("note.saved", reply.language))
        await _alert_caregivers(context, chat_id, reply)
        return
    hint = "checkin.use_buttons" if await services.checkins.has_open(user_id) else "help"
    await message.reply_text(catalog.text(hint, person.language))
