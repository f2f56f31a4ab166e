"""/history for patients (and, through /patients, for caregivers): text, trend and chart."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.history import PERIODS, chart_spec, has_finished, text_messages
from handlers.callback_data import HistoryTap, encode
from handlers.common import language_of, who
from handlers.context import Context

log = logging.getLogger(__name__)


def period_buttons(context: Context, lang: str, patient_id: int, days: int) -> InlineKeyboardMarkup:
    catalog = context.services.catalog
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    catalog.text("history.days_button", lang, days=n),
                    callback_data=encode(HistoryTap(patient_id, n)),
                )
                for n in PERIODS
                if n != days
            ]
        ]
    )


async def show(
    context: Context, viewer_id: int, chat_id: int, patient_id: int | None, days: int
) -> bool:
    """Send the history of ``patient_id`` (None: the viewer's own) if the viewer may see it."""
    services = context.services
    view = await services.caregivers.open_history(viewer_id, patient_id, days)
    if view is None:
        return False
    catalog = services.catalog
    lang = view.period.language
    messages = text_messages(catalog, services.engine, view.period, view.name)
    buttons = period_buttons(context, lang, view.patient_id, days)
    if not has_finished(view.period):
        # Nothing to draw: the text says so, and the buttons offer a longer period.
        *before, last = messages
        for text in before:
            await context.bot.send_message(chat_id, text)
        await context.bot.send_message(chat_id, last, reply_markup=buttons)
        return True
    # The chart is drawn in the worker process while the text goes out: the person reads at
    # once, and nobody else's taps wait for matplotlib.
    spec = chart_spec(catalog, services.engine, view.period, view.name)
    chart = asyncio.ensure_future(services.charts.draw(spec))
    try:
        for text in messages:
            await context.bot.send_message(chat_id, text)
    finally:
        try:
            png: bytes | None = await chart
        except Exception as exc:
            # The text has gone out; without a chart the buttons still let the person go on.
            log.warning("the history chart could not be drawn (%s)", type(exc).__name__)
            png = None
    if png is None:
        await context.bot.send_message(
            chat_id, catalog.text("history.no_chart", lang), reply_markup=buttons
        )
    else:
        # Advice marks (triangles) are pointed out only when the chart has some.
        key = "history.caption_of" if view.name else "history.caption"
        key += "_marked" if spec.marked else ""
        caption = catalog.text(key, lang, name=view.name or "")
        await context.bot.send_photo(chat_id, png, caption=caption, reply_markup=buttons)
    return True


async def history_command(update: Update, context: Context) -> None:
    """/history: the last 7 days, with buttons for 30 and 90."""
    user_id, chat_id, language_code = who(update)
    if not await show(context, user_id, chat_id, None, PERIODS[0]):
        message = update.effective_message
        if message is not None:
            services = context.services
            person = await services.users.get(user_id)
            lang = language_of(services.catalog, person, language_code)
            await message.reply_text(services.catalog.text("consent.needed", lang))


async def tap(update: Update, context: Context, data: HistoryTap) -> None:
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language = who(update)
    if data.days not in PERIODS or not await show(
        context, user_id, chat_id, data.patient_id, data.days
    ):
        services = context.services
        lang = language_of(services.catalog, await services.users.get(user_id), language)
        await query.answer(services.catalog.text("history.denied", lang))
        return
    await query.answer()
