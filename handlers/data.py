"""/export and /delete: a person's own data, to take away or to remove."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.error import TelegramError

from bot.chart import ChartUnavailable
from bot.export import FORMATS, ExportTooBig
from content.loader import Catalog
from handlers.callback_data import DataTap, ExportTap, encode
from handlers.common import edit, language_of, message_of, who
from handlers.context import Context

log = logging.getLogger(__name__)


async def export_command(update: Update, context: Context) -> None:
    """/export: which file (a spreadsheet, a report for the clinic, FHIR), then which period."""
    services = context.services
    catalog = services.catalog
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    if person is None or not person.consented:
        await message_of(update).reply_text(catalog.text("data.nothing", lang))
        return
    await message_of(update).reply_text(
        catalog.text("export.choose_format", lang), reply_markup=export_formats(catalog, lang)
    )


def export_formats(
    catalog: Catalog, lang: str, patient_id: int | None = None
) -> InlineKeyboardMarkup:
    """One button per file kind; a caregiver's name the patient they follow."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(catalog.text(f"export.format.{fmt}", lang),
                                  callback_data=encode(ExportTap(fmt, None, patient_id)))]
            for fmt in FORMATS
        ]
    )  # fmt: skip


def _periods(catalog: Catalog, lang: str, fmt: str, patient_id: int | None) -> InlineKeyboardMarkup:
    periods = ["30", "90", "all", *(["allx"] if fmt == "csv" else [])]
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(
                catalog.text("export.csv_all" if p == "allx" else f"export.period.{p}", lang),
                callback_data=encode(ExportTap(fmt, p, patient_id)),
            )]
            for p in periods
        ]
    )  # fmt: skip


async def export_tap(update: Update, context: Context, data: ExportTap) -> None:
    services = context.services
    catalog = services.catalog
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    await query.answer()
    if data.patient_id is None and (person is None or not person.consented):
        await edit(query, catalog.text("data.nothing", lang))
        return
    if data.period is None:
        periods = _periods(catalog, lang, data.fmt, data.patient_id)
        await edit(query, catalog.text("export.choose_period", lang), periods)
        return
    chosen = catalog.text(
        "export.csv_all" if data.period == "allx" else f"export.period.{data.period}", lang
    )
    await edit(query, f"{catalog.text(f'export.format.{data.fmt}', lang)} · {chosen}")
    try:
        if data.patient_id is None:
            export = await services.data.export(user_id, data.fmt, data.period)
        else:
            export = await services.data.export_for(user_id, data.patient_id, data.fmt, data.period)
            if export is None:
                await context.bot.send_message(chat_id, catalog.text("export.not_shared", lang))
                return
    except ExportTooBig:
        await context.bot.send_message(chat_id, catalog.text("export.too_big", lang))
        return
    except (ChartUnavailable, TimeoutError):
        await context.bot.send_message(chat_id, catalog.text("export.failed", lang))
        return
    if export is None:
        await context.bot.send_message(chat_id, catalog.text("data.nothing", lang))
        return
    caption = f"export.caption.{export.fmt}" + ("_all" if export.include_all else "")
    if caption == "export.caption.pdf":  # the PDF counts finished check-ins: "1 check-in"
        text = catalog.plural(caption, lang, export.rows)
    else:
        text = catalog.text(caption, lang, rows=export.rows)
    if export.whose:
        text = catalog.text("export.caption_of", lang, name=export.whose, rows=export.rows)
    await context.bot.send_document(
        chat_id, InputFile(export.data, filename=export.filename), caption=text
    )


async def delete_command(update: Update, context: Context) -> None:
    """/delete: ask once, plainly, before deleting everything."""
    services = context.services
    catalog = services.catalog
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
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
    lang = language_of(catalog, person, language_code)
    await query.answer()
    if not data.delete:
        await edit(query, catalog.text("data.kept", lang))
        return
    if person is None:
        # Nothing is kept (a repeated tap after the deletion): the same answer as the first.
        await edit(query, catalog.text("data.deleted", lang))
        return
    if not await services.users.take_nonce(user_id, data.nonce):
        # A button from an older question (before a change, or before joining again): the
        # person confirms again, on a question that is current.
        await edit(query, catalog.text("confirm.stale", lang))
        return
    name, others = await services.caregivers.links_to_tell(user_id)
    deleted = await services.data.delete_everything(user_id)
    await edit(query, catalog.text("data.deleted" if deleted else "data.nothing", lang))
    if deleted:
        # The people on the other side of a link would otherwise think it still stands.
        for other in others:
            key = "cg.patient_deleted" if other.follows_me else "cg.caregiver_deleted"
            try:
                await context.bot.send_message(
                    other.chat_id, catalog.text(key, other.language, name=name)
                )
            except TelegramError as exc:
                log.info("could not tell link %s of a deletion: %s", other.link_id,
                         type(exc).__name__)  # fmt: skip
