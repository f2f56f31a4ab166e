"""The error handler: log what failed (ids and types, never message text), tell the person."""

from __future__ import annotations

import logging
import traceback

from telegram import Update
from telegram.error import TelegramError

from bot import updates
from bot.updates import AlreadyProcessed
from handlers.common import answer_quietly
from handlers.context import Context

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, AlreadyProcessed):
        # Telegram delivered this update again (or a double delivery raced): its transaction
        # rolled back and changed nothing. Stop the button's spinner; say nothing.
        if isinstance(update, Update) and update.callback_query is not None:
            await answer_quietly(update.callback_query)
        return
    # Handling failed: unless its work was committed, a redelivery of this update is processed.
    updates.mark_failed()
    # For other errors only the type and the stack frames are logged, never the exception's
    # message: database errors can quote values, and values here are health data.
    if isinstance(error, TelegramError):
        log.error("Telegram error on update %s: %s", update_id, error.message)
    else:
        frames = "".join(traceback.format_tb(error.__traceback__)) if error else ""
        log.error("Error on update %s: %s\n%s", update_id, type(error).__name__, frames)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            catalog = context.services.catalog
            if update.callback_query is not None:
                await update.callback_query.answer()
            lang = catalog.language_for(
                update.effective_user.language_code if update.effective_user else None
            )
            await context.bot.send_message(
                update.effective_chat.id, catalog.text("error.generic", lang)
            )
        except TelegramError:
            log.warning("could not tell the user about the error on update %s", update_id)
