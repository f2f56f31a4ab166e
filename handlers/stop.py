"""No dead ends: /cancel (and /stop) wherever the bot waits for typed text or a choice, a reply
to an unknown command, and /help that fits where the person is. In a group, the bot says once
that it works in private chats and leaves."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.awaiting import Expect
from bot.checkin_service import Status
from handlers.common import language_of, message_of, who
from handlers.context import Context

log = logging.getLogger(__name__)

_STOPPED = {
    Expect.TIMEZONE: "cancel.timezone",
    Expect.TIME: "cancel.time",
    Expect.PAUSE_DATE: "cancel.pause",
    Expect.NOTE: "cancel.note",
    Expect.INVITE: "cancel.invite",
    Expect.EMERGENCY_NUMBER: "cancel.emergency",
}
"""What /cancel says it kept, by what the bot was waiting for."""


async def cancel_command(update: Update, context: Context) -> None:
    """/cancel or /stop: stop what the bot is waiting for, and say what was kept."""
    services = context.services
    catalog = services.catalog
    user_id, chat_id, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    message = message_of(update)
    if person is not None and person.awaiting is not None:
        await services.users.set_awaiting(user_id, None)
        if person.awaiting.what is Expect.TIMEZONE and person.timezone is None:
            # Still setting up (the place list waits for a town): how to go on later.
            await message.reply_text(catalog.text("cancel.onboarding", lang))
            return
        await message.reply_text(catalog.text(_STOPPED[person.awaiting.what], lang))
        return
    reply = await services.checkins.cancel_open(user_id) if person is not None else None
    if reply is not None and reply.status is Status.CANCELLED:
        # A delete question left unanswered stops too: /cancel stops whatever is going on.
        await services.users.drop_nonce(user_id)
        if reply.message_id is not None:
            # The question on screen loses its buttons: it is over.
            try:
                await context.bot.edit_message_text(
                    catalog.text("checkin.cancelled", lang), chat_id, reply.message_id
                )
                return
            except TelegramError as exc:
                log.info("could not close the check-in message: %s", type(exc).__name__)
        await message.reply_text(catalog.text("checkin.cancelled", lang))
        return
    if person is not None and await services.users.drop_nonce(user_id):
        # The consent or delete question: its buttons now do nothing. Someone who had not
        # agreed is kept only as a caregiver who follows someone (UserService.decline).
        if not person.consented:
            await services.users.decline(user_id)
        await message.reply_text(
            catalog.text("cancel.delete" if person.consented else "cancel.consent", lang)
        )
        return
    if person is not None and person.consented and person.timezone is None:
        await message.reply_text(catalog.text("cancel.onboarding", lang))
        return
    await message.reply_text(catalog.text("cancel.nothing", lang))


async def unknown_command(update: Update, context: Context) -> None:
    """A command the bot does not know: say so, and where the list is."""
    services = context.services
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(services.catalog, person, language_code)
    await message_of(update).reply_text(services.catalog.text("command.unknown", lang))


async def help_here(update: Update, context: Context) -> str | None:
    """A line for /help about where the person is now: still setting up, in a check-in, or
    asked to type (before /start, /help itself is only how to begin)."""
    services = context.services
    user_id, _, _ = who(update)
    person = await services.users.get(user_id)
    if person is None or not person.consented:
        return None
    waiting = person.awaiting.what if person.awaiting is not None else None
    if person.timezone is None and waiting in (None, Expect.TIMEZONE):
        return services.catalog.text("help.now_zone", person.language)
    if waiting is not None and waiting is not Expect.INVITE:
        return services.catalog.text("help.now_typing", person.language)
    if await services.checkins.has_open(user_id):
        return services.catalog.text("help.now_checkin", person.language)
    return None


async def added_to_group(update: Update, context: Context) -> None:
    """Added to a group or channel: explain once, then leave. Nothing is stored."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return
    if change.new_chat_member.status not in (ChatMemberStatus.MEMBER,
                                             ChatMemberStatus.ADMINISTRATOR):  # fmt: skip
        return
    catalog = context.services.catalog
    lang = catalog.language_for(change.from_user.language_code if change.from_user else None)
    try:
        if change.chat.type != ChatType.CHANNEL:
            await context.bot.send_message(change.chat.id, catalog.text("group.leaving", lang))
        await context.bot.leave_chat(change.chat.id)
    except TelegramError as exc:
        log.info("could not leave a group: %s", type(exc).__name__)
    log.info("left a %s chat it was added to", change.chat.type)
