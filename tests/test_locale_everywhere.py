"""Every reply in the person's language, and dates, numbers and plurals through Babel: the
"please /start first" answer before there is a user row (the Telegram app's language) and after
(the saved one); a pause's end date, the nudge's hours, a German CSV header and a German PDF
report; and a location shared at onboarding leads on as a typed zone does (the profile
questions, then the reminder offer). All through the real Application."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from bot import locale
from bot.export_csv import COLUMNS
from content.loader import default_catalog
from db.models import ReminderRule, User
from handlers.callback_data import ProfileTap, SettingsTap, ZoneTap, encode
from tests.harness import Harness, Person, text_update
from tests.test_checkin_flow import onboard
from tests.test_exports import add_daily_checkins, pdf_pages

CATALOG = default_catalog()
t = CATALOG.text

BOTH = pytest.mark.parametrize("lang", ["en", "de"])


async def onboard_in_language(bot: Harness, person: Person, reminder: str | None = None) -> None:
    """/start, consent, Berlin from the short list, "No" three times; then, if ``reminder``, the
    first reminder offer taken at that time."""
    await onboard(bot, person)
    if reminder:
        await bot.press(person, reminder)


async def share_location(bot: Harness, person: Person, latitude: float, longitude: float) -> None:
    update_ = text_update(person, "")
    del update_["message"]["text"]
    update_["message"]["location"] = {"latitude": latitude, "longitude": longitude}
    await bot.process(update_)


# --- "please /start first", in the person's language ---------------------------------------------


@BOTH
@pytest.mark.parametrize(
    "command", ["/settings", "/timezone", "/history", "/caregivers", "/checkin"]
)
async def test_a_command_before_start_is_answered_in_the_telegram_apps_language(
    bot: Harness, lang: str, command: str
) -> None:
    """Someone who taps a command from the menu before /start (no user row yet)."""
    person = Person(5100, "Greta" if lang == "de" else "Eve", lang)
    await bot.send(person, command)
    assert bot.screen(person).text == t("consent.needed", lang)


async def test_before_consent_the_saved_language_wins_over_the_apps(bot: Harness) -> None:
    """/start in German saves German; the app switched to English afterwards changes nothing
    until the person changes it in /settings (which needs consent)."""
    greta = Person(5101, "Greta", "de")
    await bot.send(greta, "/start")
    same_in_english = Person(5101, "Greta", "en")
    for command in ("/settings", "/timezone", "/history", "/caregivers"):
        await bot.send(same_in_english, command)
        assert bot.screen(greta).text == t("consent.needed", "de"), command


async def test_old_buttons_before_consent_answer_in_german(bot: Harness) -> None:
    """A zone, profile or settings button tapped without consent (buttons from before /delete,
    say): the answer is German for a German speaker, not English."""
    greta = Person(5102, "Greta", "de")
    await bot.send(greta, "/start")
    welcome = bot.screen(greta)
    await bot.tap(greta, encode(SettingsTap("times")), welcome)
    answer = bot.api.calls_of("answerCallbackQuery")[-1]
    assert answer.params.get("text") == t("consent.needed", "de")
    await bot.tap(greta, encode(ZoneTap("Europe/Berlin")), welcome)
    assert bot.screen(greta).text == t("consent.needed", "de")
    await bot.send(greta, "/start")
    await bot.tap(greta, encode(ProfileTap("imm", "n")), bot.screen(greta))
    assert bot.screen(greta).text == t("consent.needed", "de")


async def test_a_location_before_consent_is_answered_in_german_and_not_kept(bot: Harness) -> None:
    greta = Person(5104, "Greta", "de")
    await share_location(bot, greta, 52.52, 13.405)
    assert bot.screen(greta).text == t("consent.needed", "de")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User)) is None


# --- a location shared at onboarding -------------------------------------------------------------


@BOTH
async def test_a_location_at_onboarding_leads_on_as_a_typed_zone_does(
    bot: Harness, lang: str
) -> None:
    """Two people in Paris: one types the city, one shares a location. After the zone is saved
    both are asked the same three profile questions and then offered a reminder."""
    typed = Person(5201, "Tess", lang)
    shared = Person(5202, "Lou", lang)
    for person in (typed, shared):
        await bot.send(person, "/start")
        await bot.press(person, t("start.consent_button", lang))
    await bot.press(typed, t("tz.other_button", lang))
    await bot.send(typed, "Paris")
    await bot.press(shared, t("tz.location_button", lang))
    await share_location(bot, shared, 48.8566, 2.3522)

    first_question = t("profile.intro", lang) + "\n\n" + t("profile.q.imm", lang)
    for person in (typed, shared):
        assert "Europe/Paris" in bot.recent(person)
        assert bot.screen(person).text == first_question
        for _ in range(3):
            await bot.press(person, t("profile.no", lang))
        assert bot.screen(person).text == t("reminder.offer", lang)
        await bot.press(person, "09:00")

    def after_zone(person: Person) -> list[str]:
        texts = bot.api.texts_sent(person.chat_id)
        saved = next(i for i, text in enumerate(texts) if "Europe/Paris" in text)
        return texts[saved:]

    assert after_zone(typed) == after_zone(shared)
    async with bot.services.sessions() as session:
        users = (await session.scalars(select(User).order_by(User.telegram_id))).all()
        rules = (await session.scalars(select(ReminderRule))).all()
    assert [u.timezone for u in users] == ["Europe/Paris", "Europe/Paris"]
    assert all(u.profile_at is not None for u in users)
    assert len(rules) == 2


async def test_a_location_shared_later_asks_nothing_again(bot: Harness, pat: Person) -> None:
    """From /settings, after onboarding: the zone changes, and that is all (the profile was
    answered, a reminder is set)."""
    await onboard(bot, pat)
    await bot.press(pat, "09:00")
    await bot.send(pat, "/settings")
    await bot.press(pat, t("settings.btn_zone", "en"), t("tz.location_button", "en"))
    sent = len(bot.api.texts_sent(pat.chat_id))
    await share_location(bot, pat, 48.8566, 2.3522)
    new = bot.api.texts_sent(pat.chat_id)[sent:]
    assert len(new) == 1 and "Europe/Paris" in new[0]


# --- dates and numbers ---------------------------------------------------------------------------


def test_the_locale_helpers_write_each_language_its_way() -> None:
    today = date(2026, 3, 2)
    assert locale.coming_day(date(2026, 3, 9), "en", today) == "Mon 9 Mar"
    assert locale.coming_day(date(2026, 3, 9), "de", today) == "Mo., 9. März"
    assert locale.coming_day(date(2027, 1, 15), "en", today) == "Fri, 15 Jan 2027"
    assert locale.coming_day(date(2027, 1, 15), "de", today) == "Fr., 15. Jan. 2027"
    assert [locale.plain_number(x, "de") for x in (1.5, 3.0, 0.25)] == ["1,5", "3", "0,25"]
    assert [locale.plain_number(x, "en") for x in (1.5, 3.0, 0.25)] == ["1.5", "3", "0.25"]
    at = datetime(2026, 3, 2, 10, 0)
    assert locale.full_date_and_time(at, "en") == "2 Mar 2026, 10:00"
    assert locale.full_date_and_time(at, "de") == "2. März 2026, 10:00"


async def test_a_pause_date_is_written_the_german_way(bot: Harness) -> None:
    greta = Person(5301, "Greta", "de")
    await onboard_in_language(bot, greta, reminder="09:00")
    await bot.send(greta, "/settings")
    await bot.press(greta, t("settings.btn_pause", "de"), t("pause.7", "de"))
    assert "am Mo., 9. März;" in bot.screen(greta).text
    assert "2026-03-09" not in bot.screen(greta).text
    await bot.send(greta, "/settings")
    assert t("settings.paused", "de", date="Mo., 9. März") in bot.screen(greta).text
    # A typed date next year carries its year.
    await bot.press(greta, t("settings.btn_resume", "de"), t("settings.btn_pause", "de"))
    await bot.press(greta, t("settings.btn_pause_date", "de"))
    await bot.send(greta, "15.1.")
    assert "am Fr., 15. Jan. 2027;" in bot.screen(greta).text


async def test_a_pause_date_is_written_the_english_way(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.press(pat, "09:00")
    await bot.send(pat, "/settings")
    await bot.press(pat, "⏸ Pause", "1 week")
    assert "start again on Mon 9 Mar;" in bot.screen(pat).text
    await bot.send(pat, "/settings")
    assert "start again on Mon 9 Mar." in bot.screen(pat).text


@pytest.mark.parametrize(("lang", "shown"), [("de", "1,5 Std."), ("en", "1.5 h")])
async def test_the_nudge_hours_are_a_number_in_the_persons_language(
    bot: Harness, lang: str, shown: str
) -> None:
    person = Person(5302, "Greta", lang)
    await onboard_in_language(bot, person, reminder="09:00")
    async with bot.services.sessions.begin() as session:
        await session.execute(update(ReminderRule).values(nudge_minutes=90))
    await bot.send(person, "/settings")
    assert t("settings.nudge_on", lang, hours=shown.split()[0]) in bot.screen(person).text
    assert shown in bot.screen(person).text


# --- German exports ------------------------------------------------------------------------------


async def german_export(bot: Harness, person: Person, fmt: str, period: str) -> bytes:
    await bot.send(person, "/export")
    await bot.press(person, t(f"export.format.{fmt}", "de"), t(period, "de"))
    sent = bot.screen(person)
    assert sent.document is not None, sent.text
    return sent.document


async def test_a_german_csv_has_a_german_header_and_german_answers(bot: Harness) -> None:
    greta = Person(5401, "Greta", "de")
    await onboard_in_language(bot, greta)
    await add_daily_checkins(bot, greta, 3)
    data = await german_export(bot, greta, "csv", "export.period.30")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8").removeprefix("\ufeff"))))
    assert rows[0] == [t(f"export.col.{column}", "de") for column in COLUMNS]
    assert rows[0][:3] == ["Datum", "Uhrzeit", "Schmerz (0-10)"]
    assert len(rows) == 4
    where = [row[COLUMNS.index("where")] for row in rows[1:]]
    assert t("opt.where.lower", "de") in where  # the words Greta saw
    assert bot.screen(greta).text == t("export.caption.csv", "de", rows=3)


async def test_a_german_pdf_report_is_german_through_and_through(bot: Harness) -> None:
    """A year of check-ins, the report of everything: German headings, figures with a decimal
    comma, dates as "2. März 2026", the escalation's date and time the German way."""
    greta = Person(5402, "Greta", "de")
    await onboard_in_language(bot, greta)
    await add_daily_checkins(bot, greta, 365)
    data = await german_export(bot, greta, "pdf", "export.period.all")
    pages, text = pdf_pages(data)
    assert pages <= 2
    flat = " ".join(text.split())
    for expected in (
        t("export.pdf.title", "de", name="Greta"),
        t("export.pdf.period_all", "de", end="2. März 2026", zone="Europe/Berlin"),
        "Erstellt am 2. März 2026",
        t("export.pdf.count", "de", count=365),
        t("export.pdf.how_often.other", "de", count=365),
        t("export.pdf.summary", "de"),
        t("export.pdf.escalations", "de"),
        "12. März 2025, 10:00",  # the escalation, 355 days back, at 10:00 Berlin time
        t("export.tier.soon", "de"),
        t("opt.where.lower", "de") + ": 122",
        "Seite 1 von",
    ):
        assert expected in flat, expected
    assert "2026-03-02" not in flat and "2025-03-12" not in flat
    # The average is written with a decimal comma.
    mean = flat.split("im Durchschnitt ", 1)[1].split(" ", 1)[0]
    assert "," in mean and "." not in mean


@BOTH
async def test_the_pdf_counts_one_check_in_in_the_singular(bot: Harness, lang: str) -> None:
    person = Person(5403, "Greta", lang)
    await onboard_in_language(bot, person)
    await add_daily_checkins(bot, person, 1)
    await bot.send(person, "/export")
    await bot.press(person, t("export.format.pdf", lang), t("export.period.all", lang))
    sent = bot.screen(person)
    assert sent.document is not None
    _, text = pdf_pages(sent.document)
    flat = " ".join(text.split())
    assert t("export.pdf.how_often.one", lang) in flat
    assert ("(out of 1 finished check-in)" if lang == "en" else "(von 1 fertigen Check-in)") in flat
    # and so does the caption it is sent with
    assert ("(1 finished check-in)" if lang == "en" else "(1 fertiger Check-in)") in sent.text
