"""Small helpers shared by the handler modules."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop
from telegram.warnings import PTBUserWarning

from bot import updates
from bot.flood import Verdict
from bot.users import Person
from content.loader import Catalog
from handlers.context import Context

log = logging.getLogger(__name__)

# PTB suggests its own method whenever do_api_request names one it knows; unparsed() below calls
# it on purpose. Only these suggestions are silenced.
warnings.filterwarnings(
    "ignore",
    message=r"Please use 'Bot\.(sendMessage|editMessageText)'",
    category=PTBUserWarning,
)


async def unparsed(bot: Bot, method: str, params: dict[str, object]) -> Any:
    """One Bot API call whose answer stays JSON: on the hot paths (a reminder, a tap's edit) the
    bot needs at most the message id, and parsing Telegram's answer (the Message with its echoed
    keyboard) was a large part of their CPU (docs/benchmarks.md). The call goes through the
    Bot's rate limiter and PTB's error mapping as the named methods do; the Application's
    Defaults and PTB's callback-data cache, neither of which the bot uses, do not apply, and a
    rejected token surfaces as EndPointNotFound rather than InvalidToken."""
    return await bot.do_api_request(method, api_kwargs=params)


async def gate(update: object, context: Context) -> None:
    """Before any handler. An update with no person or chat behind it (a channel post, a poll)
    is not for this bot: dropped quietly rather than failing in a handler. So is a flood."""
    if not isinstance(update, Update) or update.effective_user is None:
        updates.drop_quietly()
        raise ApplicationHandlerStop
    if update.effective_chat is None and update.callback_query is None:
        updates.drop_quietly()
        raise ApplicationHandlerStop
    if update.callback_query is not None and update.callback_query.message is None:
        updates.drop_quietly()
        raise ApplicationHandlerStop  # a button on an inline message: none are sent
    verdict = context.services.flood.check(update.effective_user.id)
    if verdict is not Verdict.ALLOW:
        updates.drop_quietly()
        # Dropped before any database work, so a flood costs others next to nothing.
        if verdict is Verdict.DROP_AND_TELL and update.effective_chat is not None:
            catalog = context.services.catalog
            lang = catalog.language_for(update.effective_user.language_code)
            try:
                await context.bot.send_message(
                    update.effective_chat.id, catalog.text("flood.slow_down", lang)
                )
            except TelegramError as exc:
                log.info("could not send the slow-down note: %s", type(exc).__name__)
        raise ApplicationHandlerStop
    # A repeat of an update processed before is found out by its first transaction, which
    # rolls back (bot/updates.py); handlers/errors.py then drops it quietly.


def language_of(catalog: Catalog, person: Person | None, language_code: str | None) -> str:
    """The person's saved language; before there is one (no /start yet), their Telegram app's."""
    return person.language if person is not None else catalog.language_for(language_code)


async def language_of_user(context: Context, user_id: int, language_code: str | None) -> str:
    """``language_of`` the person with this Telegram id, looked up."""
    services = context.services
    return language_of(services.catalog, await services.users.get(user_id), language_code)


def who(update: Update) -> tuple[int, int, str | None]:
    """(Telegram user id, chat id, language code) of an update from a person."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        raise ValueError("update has no user or chat")
    return user.id, chat.id, user.language_code


Keyboard = dict[str, list[list[dict[str, str]]]]
"""An inline keyboard as the Bot API's JSON, ``{"inline_keyboard": rows}``: a question's buttons
(one set per tap) are built this way, since building PTB's button objects and turning them back
into JSON cost about a tenth of a tap's CPU (docs/benchmarks.md)."""

Markup = InlineKeyboardMarkup | Keyboard


async def _edit_text(query: CallbackQuery, text: str, markup: Markup | None = None) -> None:
    """Edit the text (and buttons) of the message a button belongs to, as
    ``query.edit_message_text`` does, leaving Telegram's answer unparsed."""
    message = query.message
    if message is None:  # a button on an inline message: the gate lets none through
        raise BadRequest("the message of this button is not known")
    params: dict[str, object] = {
        "chat_id": message.chat.id,
        "message_id": message.message_id,
        "text": text,
    }
    if markup is not None:
        params["reply_markup"] = markup
    await unparsed(query.get_bot(), "editMessageText", params)


async def edit(query: CallbackQuery, text: str, markup: Markup | None = None) -> bool:
    """Edit the message a button belongs to. An unchanged message counts as edited; False means
    Telegram would not edit it (too old, deleted), so the caller should send a new one."""
    try:
        await _edit_text(query, text, markup)
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return True
        log.info("could not edit a message: %s", exc.message)
        return False
    except TelegramError as exc:
        # A server error or a timeout: the patient may still be looking at a question the
        # database has moved past, so the caller sends the current one anew.
        log.info("could not edit a message: %s", type(exc).__name__)
        return False
    return True


async def freeze(query: CallbackQuery, text: str) -> None:
    """Replace an old question with a short line and no buttons; best effort (it may be gone)."""
    try:
        await _edit_text(query, text)
    except TelegramError as exc:
        log.info("could not edit an old message: %s", type(exc).__name__)


async def answer_quietly(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button tap; if Telegram fails to take the answer, carry on: the spinner stops by
    itself, and what the tap did (advice above all) matters more."""
    try:
        await query.answer(text)
    except TelegramError as exc:
        log.info("could not answer a button tap: %s", type(exc).__name__)


def message_of(update: Update) -> Message:
    message = update.effective_message
    if message is None:
        raise ValueError("update has no message")
    return message
