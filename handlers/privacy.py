"""/privacy: what is kept, why, who can see it, how to take it or delete it, and how long
check-ins are kept (the person's choice; bot/retention.py)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.retention import KEEP_CHOICES
from content.loader import Catalog
from handlers.callback_data import SettingsTap, encode
from handlers.common import edit, message_of, who
from handlers.context import Context

KEEP = "keep"
"""The settings action of the retention buttons: ``s:keep:0|365|90`` (0: keep them)."""


def _name(days: int | None) -> str:
    return "forever" if days is None else str(days)


def keep_screen(catalog: Catalog, lang: str, days: int | None) -> tuple[str, InlineKeyboardMarkup]:
    choice = catalog.text(f"privacy.keep.{_name(days)}", lang)
    rows = [
        [
            InlineKeyboardButton(
                ("✅ " if option == days else "")
                + catalog.text(f"privacy.button.{_name(option)}", lang),
                callback_data=encode(SettingsTap(KEEP, str(option or 0))),
            )
        ]
        for option in KEEP_CHOICES
    ]
    return catalog.text("privacy.keep", lang, choice=choice), InlineKeyboardMarkup(rows)


async def privacy_command(update: Update, context: Context) -> None:
    services = context.services
    catalog = services.catalog
    user_id, _, language_code = who(update)
    keeping = await services.retention.keeping(user_id)
    lang = keeping.language if keeping else catalog.language_for(language_code)
    message = message_of(update)
    await message.reply_text(catalog.text("privacy.text", lang))
    if keeping is not None and keeping.consented:
        text, keyboard = keep_screen(catalog, lang, keeping.days)
        await message.reply_text(text, reply_markup=keyboard)


async def tap(update: Update, context: Context, data: SettingsTap) -> None:
    services = context.services
    catalog = services.catalog
    query = update.callback_query
    assert query is not None
    user_id, _, language_code = who(update)
    days = int(data.arg) if data.arg and data.arg.isdigit() else -1
    chosen = days or None
    if not await services.retention.choose(user_id, chosen):
        lang = catalog.language_for(language_code)
        await query.answer(catalog.text("consent.needed", lang))
        return
    keeping = await services.retention.keeping(user_id)
    lang = keeping.language if keeping else catalog.language_for(language_code)
    choice = catalog.text(f"privacy.keep.{_name(chosen)}", lang)
    await query.answer(catalog.text("privacy.kept", lang, choice=choice))
    text, keyboard = keep_screen(catalog, lang, chosen)
    await edit(query, text, keyboard)
