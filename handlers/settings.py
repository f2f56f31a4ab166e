"""/settings: reminder times, days, time zone, pause, nudge; and the first reminder offer."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

from bot import awaiting as expect
from bot import locale, schedule
from bot.emergency import call_for, country_of, read_number
from bot.reminders import PAUSE_DAYS, QUICK_TIMES, ReminderView
from bot.timezones import local_time, zone_at
from bot.users import Person
from content.loader import Catalog
from handlers import views
from handlers.callback_data import SettingsTap, encode
from handlers.common import edit, language_of, message_of, who
from handlers.context import Context

Rendered = tuple[str, InlineKeyboardMarkup]


def _b(text: str, action: str, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(SettingsTap(action, arg)))


def _hhmm(at: time) -> str:
    return at.strftime("%H%M")


def _days(catalog: Catalog, lang: str, weekdays: frozenset[int]) -> str:
    if weekdays == schedule.ALL_DAYS:
        return catalog.text("settings.every_day", lang)
    return ", ".join(catalog.text(f"day.{d}", lang) for d in sorted(weekdays))


def menu(
    catalog: Catalog, lang: str, view: ReminderView | None, now: datetime, person: Person
) -> Rendered:
    """The settings: reminders, the emergency number advice names, and a button for each
    change."""
    t = catalog.text
    lines = [t("settings.title", lang), ""]
    if view is None or not view.times:
        lines.append(t("settings.no_times", lang))
    else:
        lines.append(t("settings.times", lang, times=schedule.format_times(view.times)))
        lines.append(t("settings.days", lang, days=_days(catalog, lang, view.weekdays)))
    if view is not None:
        lines.append(
            t("settings.zone", lang, zone=view.zone, local_time=local_time(view.zone, now))
        )
        if view.disabled_reason:
            lines.append(t("settings.blocked", lang))
        elif not view.active:
            lines.append(t("settings.off", lang))
        else:
            if view.paused_until:
                today = now.astimezone(ZoneInfo(view.zone)).date()
                until = locale.coming_day(view.paused_until, lang, today)
                lines.append(t("settings.paused", lang, date=until))
            if view.times:
                lines.append(
                    t("settings.next", lang, next=views.when(catalog, lang, view.next_local))
                )
        if view.nudge_minutes:
            hours = locale.plain_number(view.nudge_minutes / 60, lang)
            lines.append(t("settings.nudge_on", lang, hours=hours))
        else:
            lines.append(t("settings.nudge_off", lang))
    call = call_for(person.emergency_number, person.timezone, catalog.emergency_numbers)
    if call.numbers:
        lines.append(t("settings.emergency", lang, number=views.numbers(lang, call)))
    else:
        lines.append(t("settings.emergency_none", lang))
    rows = [
        [_b(t("settings.btn_times", lang), "times"), _b(t("settings.btn_days", lang), "days")],
        [_b(t("settings.btn_zone", lang), "tz")],
    ]
    if view is not None:
        pause = (
            _b(t("settings.btn_resume", lang), "resume")
            if view.paused_until
            else _b(t("settings.btn_pause", lang), "pause")
        )
        rows[1].append(pause)
        nudge = (
            _b(t("settings.btn_nudge_on", lang), "nudge", "off")
            if view.nudge_minutes
            else _b(t("settings.btn_nudge_off", lang), "nudge", "on")
        )
        onoff = (
            _b(t("settings.btn_off", lang), "off")
            if view.active
            else _b(t("settings.btn_on", lang), "on")
        )
        rows += [[nudge], [onoff]]
    rows.append(
        [_b(t("settings.btn_profile", lang), "prof"), _b(t("settings.btn_emergency", lang), "em")]
    )
    # The language: each button sets one (a repeated tap changes nothing).
    rows.append(
        [
            _b(("✅ " if code == lang else "") + t("language.name", code), "lang", code)
            for code in catalog.languages
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def times_screen(catalog: Catalog, lang: str, view: ReminderView | None) -> Rendered:
    chosen = set(view.times) if view else set()
    shown = sorted(set(QUICK_TIMES) | chosen)
    buttons = [
        _b(("✅ " if at in chosen else "") + at.strftime("%H:%M"), "t", _hhmm(at)) for at in shown
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([_b(catalog.text("settings.btn_type_time", lang), "type")])
    rows.append([_b(catalog.text("settings.btn_done", lang), "menu")])
    return catalog.text("settings.times_prompt", lang), InlineKeyboardMarkup(rows)


def days_screen(catalog: Catalog, lang: str, view: ReminderView | None) -> Rendered:
    chosen = view.weekdays if view else schedule.ALL_DAYS
    buttons = [
        _b(("✅ " if d in chosen else "") + catalog.text(f"day.{d}", lang), "d", str(d))
        for d in range(7)
    ]
    rows = [buttons[:4], buttons[4:]]
    rows.append(
        [
            _b(catalog.text("settings.btn_every_day", lang), "d", "all"),
            _b(catalog.text("settings.btn_workdays", lang), "d", "work"),
        ]
    )
    rows.append([_b(catalog.text("settings.btn_done", lang), "menu")])
    return catalog.text("settings.days_prompt", lang), InlineKeyboardMarkup(rows)


def pause_screen(catalog: Catalog, lang: str) -> Rendered:
    rows = [[_b(catalog.text(f"pause.{n}", lang), "p", str(n)) for n in PAUSE_DAYS]]
    rows.append([_b(catalog.text("settings.btn_pause_date", lang), "p", "date")])
    rows.append([_b(catalog.text("settings.btn_done", lang), "menu")])
    return catalog.text("settings.pause_prompt", lang), InlineKeyboardMarkup(rows)


def emergency_screen(
    catalog: Catalog, lang: str, own: str | None, zone: str | None, done: str | None = None
) -> Rendered:
    """The number emergency advice names, where it comes from, and a way to add or remove the
    person's own. ``done`` is a line about a change just made."""
    t = catalog.text
    call = call_for(own, zone, catalog.emergency_numbers)
    says = views.call_text(catalog, lang, call)
    if own:
        text = t("em.own", lang, own=own, call=says)
    elif call.checked:
        text = t("em.checked", lang, call=says)
    else:
        text = t("em.none", lang)
    if done:
        text = f"{done}\n\n{text}"
    rows = [[_b(t("em.btn_type", lang), "emtype")]]
    if own:
        rows.append([_b(t("em.btn_remove", lang), "emdel")])
    rows.append([_b(t("settings.btn_done", lang), "menu")])
    return text, InlineKeyboardMarkup(rows)


def number_confirm(catalog: Catalog, lang: str, number: str) -> Rendered:
    """A typed number shown back before it is saved: a slip is easier to see than to type."""
    t = catalog.text
    arg = "p" + number[1:] if number.startswith("+") else number
    rows = [
        [_b(t("em.btn_save", lang), "emsave", arg)],
        [_b(t("em.btn_not_save", lang), "em", "no")],
    ]
    return t("em.confirm", lang, number=number), InlineKeyboardMarkup(rows)


def needs_number(catalog: Catalog, person: Person) -> bool:
    """Whether the person's zone is in a country with no checked ambulance number and they saved
    none (not for UTC or a bare offset: no place was named)."""
    call = call_for(person.emergency_number, person.timezone, catalog.emergency_numbers)
    return not call.numbers and country_of(person.timezone) is not None


OFFER = "offer"
"""The argument of the type-a-number button on the offer sent after a zone is saved: when tapped,
the offer is checked again (it stays in the chat)."""


def number_offer(catalog: Catalog, lang: str) -> Rendered:
    """After a time zone with no checked ambulance number: what emergency advice will say, and
    one tap to add the number the person calls."""
    text = catalog.text("tz.no_number", lang) + "\n\n" + catalog.text("emergency.mobile", lang)
    keyboard = InlineKeyboardMarkup(
        [[_b(catalog.text("tz.btn_add_number", lang), "emtype", OFFER)]]
    )
    return text, keyboard


def first_offer(catalog: Catalog, lang: str) -> Rendered:
    """After the time zone on onboarding: one tap to get a daily reminder."""
    row = [_b(at.strftime("%H:%M"), "first", _hhmm(at)) for at in QUICK_TIMES]
    rows = [row, [_b(catalog.text("button.not_now", lang), "first", "no")]]
    return catalog.text("reminder.offer", lang), InlineKeyboardMarkup(rows)


def _parse_hhmm(arg: str | None) -> time | None:
    if arg is None or len(arg) != 4 or not arg.isdigit():
        return None
    hour, minute = int(arg[:2]), int(arg[2:])
    return time(hour, minute) if hour < 24 and minute < 60 else None


def parse_date(text: str, today: date) -> date | None:
    """A date typed as 2026-12-24, 24.12, 24.12.2026, 24/12 or 24/12/2026, in the coming year."""
    cleaned = text.strip().replace("/", ".")
    try:
        if "-" in cleaned:
            chosen = date.fromisoformat(cleaned)
        else:
            parts = [int(p) for p in cleaned.split(".") if p]
            if len(parts) == 2:
                chosen = date(today.year, parts[1], parts[0])
                if chosen <= today:
                    chosen = date(today.year + 1, parts[1], parts[0])
            elif len(parts) == 3:
                year = parts[2] + 2000 if parts[2] < 100 else parts[2]
                chosen = date(year, parts[1], parts[0])
            else:
                return None
    except ValueError:
        return None
    return chosen if today < chosen <= today + timedelta(days=366) else None


async def settings_command(update: Update, context: Context) -> None:
    """/settings: what is set now, with a button for each change."""
    services = context.services
    user_id, _, language_code = who(update)
    person = await services.users.get(user_id)
    message = message_of(update)
    if person is None or not person.consented:
        lang = language_of(services.catalog, person, language_code)
        await message.reply_text(services.catalog.text("consent.needed", lang))
        return
    if person.timezone is None:
        text, keyboard = views.zones(services.catalog, person.language, "settings.need_zone")
        await message.reply_text(text, reply_markup=keyboard)
        return
    view = await services.reminders.view(user_id)
    text, keyboard = menu(services.catalog, person.language, view, services.clock.now(), person)
    await message.reply_text(text, reply_markup=keyboard)


async def tap(update: Update, context: Context, data: SettingsTap) -> None:
    """A settings button. Every change is stored at once and the screen is redrawn."""
    services = context.services
    catalog = services.catalog
    reminders = services.reminders
    query = update.callback_query
    assert query is not None
    user_id, chat_id, language_code = who(update)
    person = await services.users.get(user_id)
    if person is None or not person.consented:
        await query.answer(
            catalog.text("consent.needed", language_of(catalog, person, language_code))
        )
        return
    lang = person.language
    await query.answer()
    action, arg = data.action, data.arg
    now = services.clock.now()

    if action == "first":
        at = _parse_hhmm(arg)
        if at is None:
            await edit(query, catalog.text("reminder.none_now", lang))
            return
        view = await reminders.set_times(user_id, [at])
        nxt = views.when(catalog, lang, view.next_local if view else None)
        await edit(
            query, catalog.text("reminder.first_set", lang, time=at.strftime("%H:%M"), next=nxt)
        )
        return
    if action == "lang" and arg in catalog.languages:
        await services.users.set_language(user_id, arg)
        lang = arg
        view = await reminders.view(user_id)
        text, markup = menu(catalog, lang, view, now, person)
        await edit(query, text, markup)
        return
    if action == "prof":
        # The profile questions again, one by one; each answer is stored as it is tapped.
        text, keyboard = views.profile_question(catalog, lang, views.PROFILE_ORDER[0], 0)
        await edit(query, text, keyboard)
        return
    if action == "tz":
        text, keyboard = views.zones(catalog, lang, "tz.choose", with_location=True)
        await edit(query, text, keyboard)
        return
    if action == "loc":
        location_keyboard = ReplyKeyboardMarkup(
            [[KeyboardButton(catalog.text("tz.location_button", lang), request_location=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
        await context.bot.send_message(
            chat_id, catalog.text("tz.location_prompt", lang), reply_markup=location_keyboard
        )
        return
    if action in ("em", "emdel", "emsave"):
        done = None
        own = person.emergency_number
        if action == "emdel" and own is not None:
            await services.users.set_emergency_number(user_id, None)
            own, done = None, catalog.text("em.removed", lang)
        elif action == "emsave" and arg is not None:
            number = read_number("+" + arg[1:] if arg.startswith("p") else arg)
            if number is not None and await services.users.set_emergency_number(user_id, number):
                own, done = number, catalog.text("em.saved", lang)
        elif action == "em" and arg == "no":
            done = catalog.text("em.not_saved", lang)
        text, keyboard = emergency_screen(catalog, lang, own, person.timezone, done)
        await edit(query, text, keyboard)
        return
    if action == "emtype":
        if arg == OFFER and (person.awaiting is not None or not needs_number(catalog, person)):
            # An old offer: the zone has a number now, one was saved, or another answer is
            # awaited (a zone, a note). Show where things stand rather than take its place.
            text, keyboard = emergency_screen(
                catalog, lang, person.emergency_number, person.timezone
            )
            await edit(query, text, keyboard)
            return
        await services.users.set_awaiting(user_id, expect.EMERGENCY_NUMBER)
        await edit(query, catalog.text("em.type_prompt", lang))
        return
    if action == "type" or (action == "p" and arg == "date"):
        awaiting = expect.TIME if action == "type" else expect.PAUSE_DATE
        await services.users.set_awaiting(user_id, awaiting)
        key = "settings.time_type_prompt" if action == "type" else "settings.pause_type_prompt"
        await edit(query, catalog.text(key, lang))
        return

    view = await reminders.view(user_id)
    if action == "t" and (at := _parse_hhmm(arg)) is not None:
        view = await reminders.toggle_time(user_id, at)
    elif action == "d" and arg is not None:
        if arg == "all":
            view = await reminders.set_weekdays(user_id, schedule.ALL_DAYS)
        elif arg == "work":
            view = await reminders.set_weekdays(user_id, schedule.WORKDAYS)
        elif arg.isdigit() and int(arg) < 7:
            view = await reminders.toggle_weekday(user_id, int(arg))
    elif action == "p" and arg is not None and arg.isdigit() and int(arg) in PAUSE_DAYS:
        zone = ZoneInfo(view.zone if view else person.timezone or "UTC")
        today = now.astimezone(zone).date()
        until = today + timedelta(days=int(arg))
        view = await reminders.pause(user_id, until)
        if view is not None:
            nxt = views.when(catalog, lang, view.next_local)
            shown = locale.coming_day(until, lang, today)
            await edit(query, catalog.text("settings.paused_done", lang, date=shown, next=nxt))
            return
    elif action == "resume":
        view = await reminders.resume(user_id)
    elif action == "nudge" and arg in ("on", "off"):
        view = await reminders.set_nudge(user_id, arg == "on")
    elif action in ("on", "off"):
        view = await reminders.set_active(user_id, action == "on")

    if action in ("times", "t"):
        text, keyboard = times_screen(catalog, lang, view)
    elif action in ("days", "d"):
        text, keyboard = days_screen(catalog, lang, view)
    elif action == "pause":
        text, keyboard = pause_screen(catalog, lang)
    else:
        text, keyboard = menu(catalog, lang, view, now, person)
    await edit(query, text, keyboard)


async def time_typed(update: Update, context: Context, text: str, language: str) -> None:
    services = context.services
    catalog = services.catalog
    user_id, _, _ = who(update)
    message = message_of(update)
    at = schedule.parse_time(text)
    if at is None:
        await message.reply_text(catalog.text("settings.time_unknown", language, text=text[:20]))
        return
    await services.users.set_awaiting(user_id, None)
    view = await services.reminders.add_time(user_id, at)
    nxt = views.when(catalog, language, view.next_local if view else None)
    _, keyboard = times_screen(catalog, language, view)
    await message.reply_text(
        catalog.text("settings.time_added", language, time=at.strftime("%H:%M"), next=nxt),
        reply_markup=keyboard,
    )


async def pause_date_typed(update: Update, context: Context, text: str, language: str) -> None:
    services = context.services
    catalog = services.catalog
    user_id, _, _ = who(update)
    message = message_of(update)
    view = await services.reminders.view(user_id)
    zone = ZoneInfo(view.zone if view else "UTC")
    today = services.clock.now().astimezone(zone).date()
    until = parse_date(text, today)
    if until is None:
        await message.reply_text(catalog.text("settings.date_unknown", language, text=text[:20]))
        return
    await services.users.set_awaiting(user_id, None)
    view = await services.reminders.pause(user_id, until)
    nxt = views.when(catalog, language, view.next_local if view else None)
    shown = locale.coming_day(until, language, today)
    await message.reply_text(catalog.text("settings.paused_done", language, date=shown, next=nxt))


async def number_typed(update: Update, context: Context, text: str, language: str) -> None:
    """The ambulance number the person uses, typed: shown back with a button to save it."""
    services = context.services
    catalog = services.catalog
    user_id, _, _ = who(update)
    message = message_of(update)
    number = read_number(text)
    if number is None:
        await message.reply_text(catalog.text("em.unknown", language, text=text[:20]))
        return
    await services.users.set_awaiting(user_id, None)  # the buttons below decide
    text_, keyboard = number_confirm(catalog, language, number)
    await message.reply_text(text_, reply_markup=keyboard)


async def location(update: Update, context: Context) -> None:
    """A shared location: find the time zone offline, keep nothing of the place. Then on, as
    after a zone tapped or typed: the profile questions (once), then the reminder offer."""
    from handlers.onboarding import after_zone

    services = context.services
    catalog = services.catalog
    user_id, _, language_code = who(update)
    message = message_of(update)
    person = await services.users.get(user_id)
    lang = language_of(catalog, person, language_code)
    if person is None or not person.consented:
        await message.reply_text(
            catalog.text("consent.needed", lang), reply_markup=ReplyKeyboardRemove()
        )
        return
    place = message.location
    zone = zone_at(place.latitude, place.longitude) if place else None
    result = await services.users.set_timezone(user_id, zone) if zone else None
    if result is None or result.zone is None:
        await message.reply_text(
            catalog.text("tz.location_unknown", lang), reply_markup=ReplyKeyboardRemove()
        )
        return
    await message.reply_text(
        views.zone_saved(catalog, lang, result),
        reply_markup=ReplyKeyboardRemove(),
    )
    await after_zone(context, user_id, lang)
