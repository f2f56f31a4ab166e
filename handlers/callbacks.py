"""One entry point for every button: decode the data, then hand it to the right handler."""

from __future__ import annotations

import logging

from telegram import Update

from handlers import (
    caregivers,
    checkin,
    data,
    history,
    onboarding,
    privacy,
    reminders,
    settings,
)
from handlers.callback_data import (
    CareTap,
    CheckinTap,
    ConsentTap,
    DataTap,
    ExportTap,
    FindingTap,
    HistoryTap,
    NoteTap,
    ProfileTap,
    ReminderTap,
    ResumeTap,
    SettingsTap,
    ZoneTap,
    decode,
)
from handlers.context import Context

log = logging.getLogger(__name__)


async def on_button(update: Update, context: Context) -> None:
    """Route a callback query; malformed data gets a polite answer and changes nothing."""
    query = update.callback_query
    if query is None:
        return
    match decode(query.data):
        case CheckinTap() as tap:
            await checkin.tap(update, context, tap)
        case ResumeTap() as tap:
            await checkin.resume(update, context, tap)
        case NoteTap() as tap:
            await checkin.note(update, context, tap)
        case ConsentTap() as tap:
            await onboarding.consent(update, context, tap)
        case ZoneTap() as tap:
            await onboarding.zone(update, context, tap)
        case ReminderTap() as tap:
            await reminders.tap(update, context, tap)
        case SettingsTap(action="keep") as tap:
            await privacy.tap(update, context, tap)
        case SettingsTap() as tap:
            await settings.tap(update, context, tap)
        case CareTap() as tap:
            await caregivers.tap(update, context, tap)
        case HistoryTap() as tap:
            await history.tap(update, context, tap)
        case DataTap() as tap:
            await data.tap(update, context, tap)
        case ExportTap() as tap:
            await data.export_tap(update, context, tap)
        case FindingTap() as tap:
            await checkin.finding(update, context, tap)
        case ProfileTap() as tap:
            await onboarding.profile(update, context, tap)
        case None:
            log.info("malformed callback data from update %s", update.update_id)
            lang = context.services.catalog.language_for(query.from_user.language_code)
            await query.answer(context.services.catalog.text("error.callback", lang))
