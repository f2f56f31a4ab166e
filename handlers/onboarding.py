"""/start, consent, time zone, /help, and the notice for group chats."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot import awaiting as expect
from bot.invites import invite_token
from handlers import stop, views
from handlers.callback_data import ConsentTap, ProfileTap, ZoneTap
from handlers.common import edit, language_of, message_of, who
from handlers.context import Context


def _first_name(update: Update) -> str | None:
    return update.effective_user.first_name if update.effective_user else None


async def start(update: Update, context: Context) -> None:
    """Greet, say what the bot does and does not do, and ask for consent."""
    services = context.services
    token = invite_token(" ".join(context.args or ()))
    if token is not None:
        from handlers.caregivers import start_with_token

        await start_with_token(update, context, token)
        return
    user_id, chat_id, language = who(update)
    person = await services.users.greet(user_id, chat_id, language, _first_name(update))
    if person.consented:
        await message_of(update).reply_text(services.catalog.text("start.already", person.language))
        return
    nonce = await services.users.new_nonce(user_id) or ""
    text, keyboard = views.consent(services.catalog, person.language, nonce)
    await message_of(update).reply_text(text, reply_markup=keyboard)


async def consent(update: Update, context: Context, tap: ConsentTap) -> None:
    """The answer to the consent question."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language = who(update)
    await query.answer()
    if not await services.users.take_nonce(user_id, tap.nonce):
        # An old consent button (for example from before /delete): nothing is recorded.
        lang = language_of(services.catalog, await services.users.get(user_id), language)
        await edit(query, services.catalog.text("confirm.stale_consent", lang))
        return
    if not tap.agree:
        # In the language the question was asked in (saved at /start), before it is deleted.
        lang = language_of(services.catalog, await services.users.get(user_id), language)
        await services.users.decline(user_id)
        await edit(query, services.catalog.text("start.declined", lang))
        return
    person = await services.users.consent(user_id, chat_id, language, _first_name(update))
    # A town typed instead of a tap is read as the zone (the list says so).
    await services.users.set_awaiting(user_id, expect.TIMEZONE)
    text, keyboard = views.zones(services.catalog, person.language)
    await edit(query, text, keyboard)


async def zone(update: Update, context: Context, tap: ZoneTap) -> None:
    """A time zone picked from the short list, or a request to type one."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    await query.answer()
    if person is None or not person.consented:
        lang = language_of(services.catalog, person, language_code)
        await edit(query, services.catalog.text("consent.needed", lang))
        return
    if tap.zone is None:
        await services.users.set_awaiting(user_id, expect.TIMEZONE)
        await edit(query, services.catalog.text("tz.type_prompt", person.language))
        return
    result = await services.users.set_timezone(user_id, tap.zone)
    await edit(query, views.zone_saved(services.catalog, person.language, result))
    await after_zone(context, user_id, person.language)


async def after_zone(context: Context, user_id: int, language: str) -> None:
    """Once the time zone is known: the profile questions (once), then the rest of setting up."""
    person = await context.services.users.get(user_id)
    if person is not None and not person.profile_answered:
        await ask_profile(context, user_id, language, 0)
        return
    await after_profile(context, user_id, language)


async def ask_profile(context: Context, chat_id: int, language: str, position: int) -> None:
    field = views.PROFILE_ORDER[position]
    text, keyboard = views.profile_question(context.services.catalog, language, field, position)
    await context.bot.send_message(chat_id, text, reply_markup=keyboard)


_ANSWERS: dict[str, bool | None] = {"y": True, "n": False, "u": None}
_LABELS = {"y": "yes", "n": "no", "u": "unsure"}


async def profile(update: Update, context: Context, tap: ProfileTap) -> None:
    """A profile answer: stored (set, never flipped), then the next question or the end."""
    services = context.services
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language_code = who(update)
    person = await services.users.set_profile(
        user_id, views.PROFILE_FIELD[tap.field], _ANSWERS[tap.answer]
    )
    await query.answer()
    if person is None:
        # Not stored: no such person, or no consent. Their saved language if there is one.
        known = await services.users.get(user_id)
        lang = language_of(services.catalog, known, language_code)
        await edit(query, services.catalog.text("consent.needed", lang))
        return
    lang = person.language
    label = services.catalog.text(f"profile.{_LABELS[tap.answer]}", lang)
    question = services.catalog.text(f"profile.q.{tap.field}", lang)
    await edit(query, f"{question}\n→ {label}")
    position = views.PROFILE_ORDER.index(tap.field) + 1
    if position < len(views.PROFILE_ORDER):
        await ask_profile(context, chat_id, lang, position)
        return
    await context.bot.send_message(chat_id, services.catalog.text("profile.saved", lang))
    await after_profile(context, user_id, lang)


async def after_profile(context: Context, user_id: int, language: str) -> None:
    """The last of setting up, and after each change of zone: where the zone's country has no
    checked ambulance number and the person saved none, an offer to add theirs; then a daily
    reminder offered to someone who has none yet."""
    from handlers.settings import first_offer, needs_number, number_offer

    services = context.services
    person = await services.users.get(user_id)
    if person is not None and needs_number(services.catalog, person):
        text, keyboard = number_offer(services.catalog, language)
        await context.bot.send_message(user_id, text, reply_markup=keyboard)
    if await services.reminders.view(user_id) is None:
        text, keyboard = first_offer(services.catalog, language)
        await context.bot.send_message(user_id, text, reply_markup=keyboard)


async def zone_typed(update: Update, context: Context, text: str, language: str) -> None:
    """Free text while the bot waits for a time zone."""
    services = context.services
    user_id, _, _ = who(update)
    result = await services.users.set_timezone(user_id, text)
    message = message_of(update)
    catalog = services.catalog
    if result.zone is None and result.choices:
        # An abbreviation or a half-hour offset: a place follows summer time, so ask which.
        # A town in several zones: ask which.
        if result.abbreviation:
            ask = catalog.text("tz.abbreviation", language, abbreviation=result.abbreviation)
        elif result.region:
            ask = catalog.text("tz.region_unknown", language, region=result.region)
        elif result.place:
            ask = catalog.text("tz.place_pick", language, place=result.place[:40])
        else:
            ask = catalog.text("tz.offset_pick", language, offset=result.fixed_offset)
        text_, keyboard = views.zone_choices(catalog, language, ask, result.choices)
        await message.reply_text(text_, reply_markup=keyboard)
        return
    if result.zone is None:
        # Not understood: say so, keep waiting, and offer the short list again.
        _, keyboard = views.zones(catalog, language, "tz.choose")
        unknown = catalog.text("tz.unknown", language, zone=text[:40])
        await message.reply_text(unknown, reply_markup=keyboard)
        return
    saved = views.zone_saved(catalog, language, result)
    if result.fixed_offset and result.choices:
        # Kept as typed, with the places on that offset offered: they follow summer time.
        note = catalog.text("tz.offset_saved", language, offset=result.fixed_offset)
        text_, keyboard = views.zone_choices(catalog, language, f"{saved}\n\n{note}",
                                             result.choices)  # fmt: skip
        await message.reply_text(text_, reply_markup=keyboard)
    else:
        await message.reply_text(saved)
    await after_zone(context, user_id, language)


async def timezone_command(update: Update, context: Context) -> None:
    """/timezone: change the time zone."""
    services = context.services
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    if person is None or not person.consented:
        lang = language_of(services.catalog, person, language_code)
        await message_of(update).reply_text(services.catalog.text("consent.needed", lang))
        return
    await services.users.set_awaiting(user_id, expect.TIMEZONE)  # a town may be typed
    text, keyboard = views.zones(services.catalog, person.language, "tz.choose")
    await message_of(update).reply_text(text, reply_markup=keyboard)


async def help_command(update: Update, context: Context) -> None:
    """/help: what fits where the person is (before /start, only how to begin), and that the
    bot is not for emergencies."""
    services = context.services
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    lang = language_of(services.catalog, person, language_code)
    started = person is not None and person.consented
    text = services.catalog.text("help" if started else "help.before_start", lang)
    here = await stop.help_here(update, context)
    await message_of(update).reply_text(f"{here}\n\n{text}" if here else text)


async def not_private(update: Update, context: Context) -> None:
    """In a group: say the bot works only in a private chat, and store nothing."""
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None or chat.type == ChatType.PRIVATE:
        return
    lang = context.services.catalog.language_for(
        update.effective_user.language_code if update.effective_user else None
    )
    await message.reply_text(context.services.catalog.text("private.only", lang))
