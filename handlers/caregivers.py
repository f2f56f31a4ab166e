"""/caregivers for patients, invite links, /patients for caregivers, and alerts to caregivers."""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden, TelegramError

from bot.caregivers import MISSED_DAY_CHOICES, Ended, Overview, Recipient, link_nonce
from bot.history import text_messages
from bot.invites import Accepted, InviteProblem
from content.loader import Catalog
from handlers import views
from handlers.callback_data import CareTap, HistoryTap, encode
from handlers.common import edit, language_of, message_of, who
from handlers.context import Context
from handlers.data import export_formats

log = logging.getLogger(__name__)


def _b(text: str, action: str, target: int | None = None, nonce: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(CareTap(action, target, nonce)))


def overview_screen(catalog: Catalog, overview: Overview) -> tuple[str, InlineKeyboardMarkup]:
    t = catalog.text
    lang = overview.language
    lines = [t("cg.title", lang), ""]
    zone = ZoneInfo(overview.zone)
    if overview.followers:
        for follower in overview.followers:
            since = views.when(catalog, lang, follower.since.astimezone(zone)).rsplit(",", 1)[0]
            lines.append(t("cg.follower", lang, name=follower.name, since=since))
        lines += ["", t("cg.sharing_title", lang)]
    else:
        lines.append(t("cg.none", lang))
    if overview.seen:
        lines += ["", t("cg.seen_title", lang)]
        for seen in overview.seen:
            key = {"summary": "cg.seen_summary", "export": "cg.seen_export"}.get(
                seen.kind, "cg.seen_history"
            )
            when = views.when(catalog, lang, seen.at.astimezone(zone))
            lines.append(t(key, lang, name=seen.name, when=when))
    state = {True: t("cg.on", lang), False: t("cg.off", lang)}
    sharing = overview.sharing
    rows = [[_b(t("cg.invite_button", lang), "inv")]]
    rows += [
        [_b(t("cg.remove_button", lang, name=f.name), "rm", f.link_id, link_nonce(f.since))]
        for f in overview.followers
    ]
    # Each button carries the value it sets (1 on, 0 off, or the next number of days), so a
    # repeated delivery of the same tap changes nothing.
    days = sharing.missed_days
    next_days = MISSED_DAY_CHOICES[
        (MISSED_DAY_CHOICES.index(days) + 1) % len(MISSED_DAY_CHOICES)
        if days in MISSED_DAY_CHOICES
        else 0
    ]
    missed = t("cg.btn_missed", lang, days=days) if days else t("cg.btn_missed_off", lang)
    rows += [
        [_b(t("cg.btn_red", lang, state=state[sharing.red_alerts]), "red",
            int(not sharing.red_alerts))],
        [_b(t("cg.btn_amber", lang, state=state[sharing.amber_alerts]), "amber",
            int(not sharing.amber_alerts))],
        [_b(missed, "miss", next_days)],
        [_b(t("cg.btn_week", lang, state=state[sharing.weekly_summary]), "week",
            int(not sharing.weekly_summary))],
        [_b(t("cg.btn_files", lang, state=state[sharing.files]), "files",
            int(not sharing.files))],
    ]  # fmt: skip
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def caregivers_command(update: Update, context: Context) -> None:
    """/caregivers: who can see my check-ins, what they receive, who looked."""
    services = context.services
    user_id, _, language_code = who(update)
    overview = await services.caregivers.overview(user_id)
    message = message_of(update)
    if overview is None:
        person = await services.users.get(user_id)
        lang = language_of(services.catalog, person, language_code)
        await message.reply_text(services.catalog.text("consent.needed", lang))
        return
    text, keyboard = overview_screen(services.catalog, overview)
    await message.reply_text(text, reply_markup=keyboard)


async def start_with_token(update: Update, context: Context, token: str) -> None:
    """/start <token> from an invite link: show who invites and what will be shared."""
    services = context.services
    catalog = services.catalog
    user = update.effective_user
    user_id, chat_id, language_code = who(update)
    lang = language_of(catalog, await services.users.get(user_id), language_code)
    preview = await services.invites.preview(
        user_id, chat_id, lang, user.first_name if user else None, token
    )
    message = message_of(update)
    if preview.problem is not None or preview.invite_id is None:
        problem = preview.problem or InviteProblem.UNKNOWN
        await message.reply_text(catalog.text(f"cg.invite_{problem.value}", lang))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [_b(catalog.text("cg.accept_button", lang), "acc", preview.invite_id)],
            [_b(catalog.text("cg.decline_button", lang), "dec", preview.invite_id)],
        ]
    )
    await message.reply_text(
        catalog.text("cg.invite_preview", lang, name=preview.patient_name), reply_markup=keyboard
    )


async def tap(update: Update, context: Context, data: CareTap) -> None:
    services = context.services
    catalog = services.catalog
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language_code = who(update)
    care = services.caregivers
    if data.action in ("stop", "stopy", "pat"):
        await _following(update, context, data)
        return
    # The saved language of someone known; before /start, their Telegram app's.
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)

    if data.action == "acc" and data.target is not None:
        outcome = await services.invites.accept(user_id, data.target)
        await query.answer()
        if isinstance(outcome, Accepted):
            await edit(query, catalog.text("cg.accepted", lang, name=outcome.patient_name))
            if not outcome.again:
                await _notify(context, outcome)
        else:
            await edit(query, catalog.text(f"cg.invite_{outcome.value}", lang))
        return
    if data.action == "dl" and data.target is not None:
        await query.answer()
        await edit(query, catalog.text("export.choose_format", lang),
                   export_formats(catalog, lang, data.target))  # fmt: skip
        return
    if data.action == "dec":
        await services.invites.decline(user_id)
        await query.answer()
        await edit(query, catalog.text("cg.declined", lang))
        return

    overview = await care.overview(user_id)
    if overview is None:
        await query.answer(catalog.text("consent.needed", lang))
        return
    lang = overview.language
    if data.action == "inv":
        token = await services.invites.create_invite(user_id)
        await query.answer()
        username = context.bot.username
        link = f"https://t.me/{username}?start={token}"
        await context.bot.send_message(
            chat_id,
            catalog.text("cg.invite_text", lang, hours=services.settings.caregiver_invite_hours,
                         link=link),
        )  # fmt: skip
        return
    if data.action == "rm" and data.target is not None:
        ended = await care.remove(user_id, data.target, data.nonce)
        if ended is None:
            await query.answer(catalog.text("history.denied", lang))
            return
        if isinstance(ended, str):
            # Drawn for a link that has been re-made since: nothing is removed.
            await query.answer(catalog.text("cg.stale_remove", lang), show_alert=True)
        else:
            await query.answer(catalog.text("cg.removed", lang, name=ended.name))
            if ended.now_ended:
                await _tell(context, ended, "cg.you_were_removed")
    elif data.action in ("red", "amber", "miss", "week", "files"):
        await care.change_sharing(user_id, data.action, data.target)
        await query.answer()
    overview = await care.overview(user_id)
    if overview is not None:
        text, keyboard = overview_screen(catalog, overview)
        await edit(query, text, keyboard)


async def _notify(context: Context, accepted: Accepted) -> None:
    catalog = context.services.catalog
    try:
        await context.bot.send_message(
            accepted.patient_chat_id,
            catalog.text(
                "cg.patient_told", accepted.patient_language, name=accepted.caregiver_name
            ),
        )
    except TelegramError as exc:
        log.info("could not tell the patient about a new caregiver: %s", type(exc).__name__)


async def _patients_screen(
    context: Context, user_id: int, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    catalog = context.services.catalog
    followed = await context.services.caregivers.followed(user_id)
    if not followed:
        return catalog.text("cg.patients_none", lang), None
    rows = []
    for f in followed:
        rows.append(
            [InlineKeyboardButton(f.name, callback_data=encode(HistoryTap(f.patient_id, 7)))]
        )
        if f.files:
            rows.append([_b(catalog.text("cg.files_button", lang, name=f.name), "dl",
                            f.patient_id)])  # fmt: skip
        rows.append([_b(catalog.text("cg.stop_button", lang, name=f.name), "stop", f.link_id,
                        f.nonce)])  # fmt: skip
    return catalog.text("cg.patients_title", lang), InlineKeyboardMarkup(rows)


async def patients_command(update: Update, context: Context) -> None:
    """/patients: the people I follow: their history, and a way to stop following."""
    services = context.services
    catalog = services.catalog
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    text, keyboard = await _patients_screen(context, user_id, lang)
    await message_of(update).reply_text(text, reply_markup=keyboard)


async def _following(update: Update, context: Context, data: CareTap) -> None:
    """Stop following: asked once (alerts stop too), then done, and the patient is told."""
    services = context.services
    catalog = services.catalog
    query = update.callback_query
    assert query is not None
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    await query.answer()
    if data.action == "pat" or data.target is None:
        text, keyboard = await _patients_screen(context, user_id, lang)
        await edit(query, text, keyboard)
        return
    if data.action == "stop":
        followed = {f.link_id: f for f in await services.caregivers.followed(user_id)}
        chosen = followed.get(data.target)
        if chosen is None or chosen.nonce != data.nonce:
            text, keyboard = await _patients_screen(context, user_id, lang)
            await edit(query, catalog.text("confirm.stale", lang) + "\n\n" + text, keyboard)
            return
        keyboard = InlineKeyboardMarkup(
            [
                [_b(catalog.text("cg.stop_yes", lang), "stopy", chosen.link_id, chosen.nonce)],
                [_b(catalog.text("cg.stop_keep", lang), "pat")],
            ]
        )
        await edit(query, catalog.text("cg.stop_confirm", lang, name=chosen.name), keyboard)
        return
    ended = await services.caregivers.stop_following(user_id, data.target, data.nonce)
    if ended is None or isinstance(ended, str):
        text, keyboard = await _patients_screen(context, user_id, lang)
        await edit(query, catalog.text("confirm.stale", lang) + "\n\n" + text, keyboard)
        return
    # A repeated tap shows the same result, and the patient is told only once.
    await edit(query, catalog.text("cg.stopped", lang, name=ended.name))
    if ended.now_ended:
        await _tell(context, ended, "cg.caregiver_stopped")


async def _tell(context: Context, ended: Ended, key: str) -> None:
    """Tell the other side of a link that has just ended; a blocked chat is no error."""
    if ended.tell_chat_id is None:
        return
    text = context.services.catalog.text(key, ended.tell_language, name=ended.teller_name)
    try:
        await context.bot.send_message(ended.tell_chat_id, text)
    except TelegramError as exc:
        log.info("could not tell the other side of an ended link: %s", type(exc).__name__)


async def _send_each(
    context: Context, recipients: list[Recipient], text_for: dict[str, str]
) -> int:
    """Send to each caregiver still linked; one who blocked the bot does not stop the others."""
    services = context.services
    sent = 0

    async def one(recipient: Recipient) -> None:
        nonlocal sent
        if not await services.digests.still_linked(recipient.link_id):
            return
        try:
            await context.bot.send_message(recipient.chat_id, text_for[recipient.language])
            sent += 1
        except Forbidden:
            log.info("caregiver of link %s has blocked the bot", recipient.link_id)
        except TelegramError as exc:
            log.warning("alert to link %s failed: %s", recipient.link_id, type(exc).__name__)

    await asyncio.gather(*(one(r) for r in recipients))
    return sent


async def digests(context: Context) -> None:
    """Missed-check-in alerts and weekly summaries that are due (a periodic job)."""
    services = context.services
    catalog = services.catalog
    for patient_id, kind, days, recipients in await services.digests.due_digests():
        if kind == "missed":
            name = await services.digests.patient_name(patient_id)
            texts = {
                lang: catalog.text("alert.missed", lang, name=name, days=days)
                for lang in {r.language for r in recipients}
            }
            await _send_each(context, recipients, texts)
            continue
        for recipient in recipients:
            view = await services.digests.summary_for(patient_id, recipient)
            if view is None:
                continue
            try:
                for text in text_messages(catalog, services.engine, view.period, view.name):
                    await context.bot.send_message(recipient.chat_id, text)
            except TelegramError as exc:
                log.info("weekly summary to link %s failed: %s", recipient.link_id,
                         type(exc).__name__)  # fmt: skip
