"""Reminders on Telegram: sending them (the sweep's port) and the buttons on them."""

from __future__ import annotations

import logging

from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.checkin_service import Status
from bot.reminders import SNOOZE_MINUTES
from bot.sweep import Kind, Outgoing, Result, SendResult
from content.loader import Catalog
from handlers import views
from handlers.callback_data import ReminderTap, encode
from handlers.common import edit, freeze, language_of, unparsed, who
from handlers.context import Context

log = logging.getLogger(__name__)


def reminder_keyboard(
    catalog: Catalog, lang: str, delivery_id: int, kind: Kind
) -> list[list[dict[str, str]]]:
    """The reminder's buttons as the Bot API's ``inline_keyboard``: Start now, the snoozes
    (not on a nudge), Skip today."""

    def button(key: str, action: str) -> dict[str, str]:
        return {
            "text": catalog.text(key, lang),
            "callback_data": encode(ReminderTap(delivery_id, action)),
        }

    rows = [[button("button.start_now", "go")]]
    if kind is not Kind.NUDGE:
        rows.append([button(f"button.snooze_{m}", f"s{m}") for m in SNOOZE_MINUTES])
    rows.append([button("button.skip_today", "skip")])
    return rows


class TelegramReminderSender:
    """Sends one reminder and classifies what Telegram said."""

    def __init__(self, bot: Bot, catalog: Catalog) -> None:
        self.bot = bot
        self.catalog = catalog

    async def send(self, item: Outgoing) -> SendResult:
        key = "reminder.nudge" if item.kind is Kind.NUDGE else "reminder.text"
        keyboard = reminder_keyboard(self.catalog, item.language, item.delivery_id, item.kind)
        try:
            # The sweep's bulk path: only the message id is read from Telegram's answer.
            message = await unparsed(
                self.bot,
                "sendMessage",
                {
                    "chat_id": item.chat_id,
                    "text": self.catalog.text(key, item.language),
                    "reply_markup": {"inline_keyboard": keyboard},
                },
            )
        except Forbidden:
            return SendResult(Result.BLOCKED, error="blocked")
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
            return SendResult(Result.RETRY, retry_after=seconds, error="rate_limited")
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                return SendResult(Result.BLOCKED, error="chat_not_found")
            return SendResult(Result.FAILED, error="bad_request")
        except (TimedOut, NetworkError) as exc:
            # NetworkError covers 5xx answers and dropped connections.
            return SendResult(Result.RETRY, error=type(exc).__name__.lower()[:64])
        return SendResult(Result.SENT, message_id=int(message["message_id"]))


async def tap(update: Update, context: Context, data: ReminderTap) -> None:
    """Start now, snooze, or skip today."""
    services = context.services
    catalog = services.catalog
    query = update.callback_query
    assert query is not None
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    if not await services.reminders.owns_delivery(user_id, data.delivery_id):
        await query.answer(catalog.text("reminder.gone", lang))
        return
    await query.answer()
    if data.action == "go":
        reply = await services.checkins.start(user_id, reminder_delivery_id=data.delivery_id)
        if reply.status is Status.RESUME_OFFER and reply.checkin_id is not None:
            text, keyboard = views.resume_offer(catalog, reply.language, reply.checkin_id)
            await edit(query, text, keyboard)
        elif reply.screen is not None and query.message is not None:
            text, buttons = views.question(catalog, services.engine, reply.language, reply.screen)
            if await edit(query, text, buttons):
                await services.checkins.set_message(
                    reply.screen.checkin_id, query.message.message_id
                )
        else:
            await freeze(query, catalog.text("consent.needed", lang))
        return
    if data.action == "skip":
        view = await services.reminders.skip_today(user_id, data.delivery_id)
        nxt = views.when(catalog, lang, view.next_local if view else None)
        await freeze(query, catalog.text("reminder.skipped", lang, next=nxt))
        return
    minutes = int(data.action[1:])
    view = await services.reminders.snooze(user_id, data.delivery_id, minutes)
    if view is None or view.snooze_local is None:
        await freeze(query, catalog.text("reminder.gone", lang))
        return
    at = view.snooze_local.strftime("%H:%M")
    await freeze(query, catalog.text("reminder.snoozed", lang, time=at))
