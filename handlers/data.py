"""/export and /delete: a person's own data, to take away or to remove."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from handlers.callback_data import DataTap, encode
from handlers.common import edit, message_of, who
from handlers.context import Context


async def export_command(update: Update, context: Context) -> None:
    """/export: every check-in as a CSV file."""
    services = context.services
    user_id, chat_id, language_code = who(update)
    export = await services.data.export_csv(user_id)
    lang = services.catalog.language_for(language_code)
    if export is None:
        await message_of(update).reply_text(services.catalog.text("data.nothing", lang))
        return
    person = await services.users.get(user_id)
    lang = person.language if person else lang
    await context.bot.send_document(
        chat_id,
        InputFile(export.data, filename=export.filename),
        caption=services.catalog.text("data.export_caption", lang, rows=export.rows),
    )


async def delete_command(update: Update, context: Context) -> None:
    """/delete: ask once, plainly, before deleting everything."""
    services = context.services
    catalog = services.catalog
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = person.language if person else catalog.language_for(language_code)
    nonce = await services.users.new_nonce(user_id) if person else None
    if person is None or nonce is None:
        await message_of(update).reply_text(catalog.text("data.nothing", lang))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(catalog.text("data.keep_button", lang),
                                  callback_data=encode(DataTap(delete=False)))],
            [InlineKeyboardButton(catalog.text("data.delete_button", lang),
                                  callback_data=encode(DataTap(True, nonce)))],
        ]
    )  # fmt: skip
    await message_of(update).reply_text(
        catalog.text("data.delete_confirm", lang), reply_markup=keyboard
    )


async def tap(update: Update, context: Context, data: DataTap) -> None:
    services = context.services
    catalog = services.catalog
    query = update.callback_query
    assert query is not None
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = person.language if person else catalog.language_for(language_code)
    await query.answer()
    if not data.delete:
        await edit(query, catalog.text("data.kept", lang))
        return
    if not await services.users.take_nonce(user_id, data.nonce):
        # A button from an older question (before a change, or before joining again): the
        # person confirms again, on a question that is current.
        await edit(query, catalog.text("confirm.stale", lang))
        return
    deleted = await services.data.delete_everything(user_id)
    await edit(query, catalog.text("data.deleted" if deleted else "data.nothing", lang))
