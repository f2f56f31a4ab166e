"""A person's own emergency number: where the bot has no checked ambulance number for the time
zone's country (or the person uses another), they can save theirs in /settings, and emergency
advice (theirs and their caregivers') names it, before the checked one where there is one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.emergency import Call, call_for, read_number
from content.loader import default_catalog
from db.models import User
from tests.harness import ChatMessage, Harness, Person, find_button
from tests.test_checkin_flow import emergency_by_button, onboard, onboard_in

CATALOG = default_catalog()


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("112", "112"),
        (" 1 1 2 ", "112"),
        ("1122", "1122"),
        ("0800-123-456", "0800123456"),
        ("+44 (20) 7946 0000", "+442079460000"),
        ("15", "15"),
    ],
)
def test_a_typed_number_is_read_as_its_digits(typed: str, read: str) -> None:
    assert read_number(typed) == read


@pytest.mark.parametrize(
    "typed",
    ["", "1", "ambulance", "112 now", "++112", "١١٢", "1" * 16, "call 999", "10.30", "12/03"],
)
def test_anything_but_a_phone_number_is_not_read(typed: str) -> None:
    # Not a time or a date either: "10.30" typed into the wrong question is not a number.
    assert read_number(typed) is None


def test_a_saved_number_comes_first_and_never_stands_alone() -> None:
    numbers = CATALOG.emergency_numbers
    assert call_for(None, "Asia/Karachi", numbers) == Call((), checked=False)  # none checked
    # Only the saved one known: advice adds "or your local emergency number" (checked False).
    assert call_for("1122", "Asia/Karachi", numbers) == Call(("1122",), checked=False)
    assert call_for("1122", "Europe/Berlin", numbers) == Call(("1122", "112"), checked=True)
    assert call_for("112", "Europe/Berlin", numbers) == Call(("112",), checked=True)  # once
    assert call_for("+112", "Europe/Berlin", numbers) == Call(("112",), checked=True)
    assert call_for("999", "Europe/Dublin", numbers) == Call(("112", "999"), checked=True)
    assert call_for(None, "Europe/Dublin", numbers) == Call(("112", "999"), checked=True)


async def _save(bot: Harness, person: Person, typed: str, lang: str = "en") -> None:
    """/settings, the emergency number, type it, and confirm what is shown back."""
    t = CATALOG.text
    await bot.send(person, "/settings")
    await bot.press(person, t("settings.btn_emergency", lang), t("em.btn_type", lang))
    await bot.send(person, typed)
    await bot.press(person, t("em.btn_save", lang))


async def _move_to(bot: Harness, person: Person, place: str) -> None:
    """/timezone, and the place typed."""
    await bot.send(person, "/timezone")
    await bot.press(person, "Other (type it)")
    await bot.send(person, place)


async def test_a_patient_without_a_checked_number_saves_theirs_and_advice_names_it(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await _move_to(bot, pat, "Karachi")  # Pakistan: no checked ambulance number in the list
    # Right after the zone is saved: what advice will say, and one tap to add the number.
    offer = bot.message_with(pat, "🚑 Add my ambulance number")
    assert offer.text == (
        "I don't have a checked ambulance number for this area, so in an emergency I will say "
        '"call your local emergency number". If you know the number you call for an ambulance, '
        "add it and I will name it. You can also do this later in /settings.\n\n"
        "From a mobile phone, you can also try 112."
    )

    await bot.send(pat, "/settings")
    assert "Emergency number: not known for your area yet." in bot.screen(pat).text
    await bot.press(pat, "🚑 Emergency number")
    assert "call your local emergency number" in bot.screen(pat).text
    assert "from a mobile phone you can also try 112" in bot.screen(pat).text
    assert "Remove my number" not in bot.screen(pat).labels()
    # The advice before a number is saved: the local number, and 112 from a mobile.
    advice = await emergency_by_button(bot, pat)
    assert advice.startswith(
        "<b>🚨 Please call your local emergency number now, or go straight to the nearest "
        "emergency department.</b>\nFrom a mobile phone, you can also try 112.\n"
    )

    await bot.press(pat, "🚑 Add my ambulance number")  # the offer becomes the question
    asked = next(m for m in bot.api.chat(pat.chat_id) if m.message_id == offer.message_id)
    assert asked.text.startswith("Type the number you call for an ambulance")

    await bot.send(pat, "the one for ambulances")  # not a number: said so, still waiting
    assert bot.screen(pat).text.startswith("I could not read “the one for ambula")
    await bot.send(pat, "11 22")
    assert bot.screen(pat).text == "Save 1122 as the number you call for an ambulance?"
    async with bot.services.sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None and (user.emergency_number, user.awaiting) == (None, None)
    await bot.press(pat, "Yes, save it")
    assert bot.screen(pat).text == (
        "Saved.\n\nYou saved 1122. In an emergency I tell you to call 1122 or your local "
        "emergency number."
    )
    assert "Remove my number" in bot.screen(pat).labels()
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.emergency_number)) == "1122"

    await bot.send(pat, "/settings")
    assert "Emergency number: 1122" in bot.screen(pat).text
    advice = await emergency_by_button(bot, pat)
    assert advice.startswith("<b>🚨 Please call 1122 or your local emergency number now")
    assert "try 112" not in advice  # a saved number is named instead


async def test_a_number_shown_back_can_be_refused(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "🚑 Emergency number", "✏️ Type a number")
    await bot.send(pat, "1030")
    await bot.press(pat, "No, don't save it")
    assert bot.screen(pat).text.startswith("Not saved.\n\nIn an emergency I tell you to call 112.")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.emergency_number)) is None


async def test_a_check_in_ends_the_wait_for_a_number(bot: Harness, pat: Person) -> None:
    """Asked for a number, the patient starts a check-in instead: what they type then is about
    the check-in (a note), never taken as their emergency number."""
    await onboard(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "🚑 Emergency number", "✏️ Type a number")
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5")
    await bot.send(pat, "1030")
    assert "Save 1030" not in bot.recent(pat, 3)
    async with bot.services.sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None and (user.emergency_number, user.awaiting) == (None, None)


async def test_a_caregiver_alert_names_the_patients_number(
    bot: Harness, pat: Person, sam: Person
) -> None:
    from tests.test_caregivers import alerts_to, link

    await onboard(bot, pat)
    await link(bot, pat, sam)
    await _move_to(bot, pat, "Karachi")
    await emergency_by_button(bot, pat)  # no number known: the patient's own local number
    [alert] = alerts_to(bot, sam)
    assert "The bot told them to call their local emergency number or go to" in alert
    await _save(bot, pat, "1122")
    await emergency_by_button(bot, pat)
    alert = alerts_to(bot, sam)[-1]
    assert "The bot told them to call 1122 or their local emergency number or go to" in alert


async def test_where_the_country_has_a_checked_number_both_are_named_and_removal_works(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)  # Berlin: 112
    await bot.send(pat, "/settings")
    assert "Emergency number: 112" in bot.screen(pat).text
    await bot.press(pat, "🚑 Emergency number")
    assert bot.screen(pat).text.startswith("In an emergency I tell you to call 112.")
    await bot.press(pat, "✏️ Type a number")
    await bot.send(pat, "19222")
    await bot.press(pat, "Yes, save it")
    assert "You saved 19222. In an emergency I tell you to call 19222 or 112." in (
        bot.screen(pat).text
    )
    assert (await emergency_by_button(bot, pat)).startswith("<b>🚨 Please call 19222 or 112 now")

    await bot.send(pat, "/settings")
    await bot.press(pat, "🚑 Emergency number", "Remove my number")
    assert bot.screen(pat).text.startswith("Your number is removed.\n\nIn an emergency I tell")
    assert "Remove my number" not in bot.screen(pat).labels()
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.emergency_number)) is None


async def test_cancel_while_typing_a_number_keeps_the_old_one(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "🚑 Emergency number", "✏️ Type a number")
    await bot.send(pat, "/cancel")
    assert bot.screen(pat).text == "OK, stopped. Your emergency number stays as it was."
    await bot.send(pat, "1122")  # no longer taken as a number
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.emergency_number)) is None


async def test_a_warning_sign_typed_instead_of_the_number_is_escalated(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/settings")
    await bot.press(pat, "🚑 Emergency number", "✏️ Type a number")
    await bot.send(pat, "I can't pee at all since this morning")
    assert bot.api.texts_sent(pat.chat_id)[-1].startswith("<b>🚨 Please call 112 now")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.emergency_number)) is None


async def test_a_german_speaker_saves_a_number_in_german(bot: Harness) -> None:
    t = CATALOG.text
    greta = Person(4731, "Greta", "de")
    await onboard_in(bot, greta, "Karachi", "de")
    offer = bot.message_with(greta, "🚑 Meine Nummer für den Rettungsdienst")
    assert offer.text.startswith("Für diese Gegend habe ich keine geprüfte Nummer")
    assert offer.text.endswith("Vom Handy aus können Sie auch die 112 versuchen.")
    advice = await emergency_by_button(bot, greta, "de")
    assert advice.startswith(
        "<b>🚨 Bitte rufen Sie jetzt die örtliche Notrufnummer an, oder gehen Sie direkt in die "
        "nächste Notaufnahme.</b>\nVom Handy aus können Sie auch die 112 versuchen."
    )
    await bot.send(greta, "/settings")
    assert t("settings.emergency_none", "de") in bot.screen(greta).text
    await bot.press(greta, t("settings.btn_emergency", "de"), t("em.btn_type", "de"))
    await bot.send(greta, "zwölf")
    assert bot.screen(greta).text.startswith("„zwölf“ kann ich nicht als Telefonnummer lesen")
    await bot.send(greta, "1122")
    assert bot.screen(greta).text == (
        "Soll ich die 1122 als Ihre Nummer für den Rettungsdienst speichern?"
    )
    await bot.press(greta, t("em.btn_save", "de"))
    assert bot.screen(greta).text.startswith("Gespeichert.\n\nSie haben die 1122 gespeichert.")
    advice = await emergency_by_button(bot, greta, "de")
    assert "den Notruf 1122 oder die örtliche Notrufnummer" in advice
    assert "112." not in advice


async def test_the_offer_comes_last_in_setting_up_and_only_where_no_number_is_known(
    bot: Harness, pat: Person, sam: Person
) -> None:
    t = CATALOG.text
    add = t("tz.btn_add_number", "en")
    await onboard_in(bot, pat, "Lahore")  # Pakistan: none checked
    texts = [m.text for m in bot.api.chat(pat.chat_id)]
    # After the profile questions, and just before the reminder offer.
    offer = texts.index(bot.message_with(pat, add).text)
    assert texts[offer - 1] == t("profile.saved", "en")
    assert texts[offer + 1] == t("reminder.offer", "en")

    await onboard(bot, sam)  # Berlin: 112 is checked, so no offer
    await bot.send(sam, "/timezone")
    await bot.press(sam, t("tz.other_button", "en"))
    await bot.send(sam, "UTC+5")  # a bare offset: no place named, places offered instead
    assert not any(add in m.labels() for m in bot.api.chat(sam.chat_id))


async def test_an_old_offer_shows_where_things_stand_and_never_takes_another_answers_place(
    bot: Harness, pat: Person
) -> None:
    t = CATALOG.text
    add = t("tz.btn_add_number", "en")
    await onboard_in(bot, pat, "Lahore")
    lahore = bot.message_with(pat, add)
    await _move_to(bot, pat, "London")

    # Moved to London, where 999 is checked: the old offer shows that, asks nothing.
    await bot.tap(pat, find_button(lahore, add), lahore)
    assert _now(bot, pat, lahore).startswith("In an emergency I tell you to call 999.")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.awaiting)) is None

    # Waiting for a typed zone: an offer tapped does not take over the wait.
    await _move_to(bot, pat, "Karachi")  # a new offer
    karachi = bot.message_with(pat, add)
    await bot.send(pat, "/timezone")
    await bot.press(pat, t("tz.other_button", "en"))
    await bot.tap(pat, find_button(karachi, add), karachi)
    assert _now(bot, pat, karachi).startswith("I don't have a checked ambulance number")
    await bot.send(pat, "London")
    async with bot.services.sessions() as session:  # the typed zone was taken as a zone
        assert await session.scalar(select(User.timezone)) == "Europe/London"


async def test_the_offer_is_tapped_in_german(bot: Harness) -> None:
    t = CATALOG.text
    greta = Person(4732, "Greta", "de")
    await onboard_in(bot, greta, "Lahore", "de")
    offer = bot.message_with(greta, t("tz.btn_add_number", "de"))
    await bot.press(greta, t("tz.btn_add_number", "de"))
    assert _now(bot, greta, offer) == (
        "Geben Sie die Nummer ein, die Sie dort, wo Sie wohnen, für den Rettungsdienst wählen, "
        "nur die Ziffern. /cancel bricht ab."
    )
    await bot.send(greta, "1122")
    await bot.press(greta, t("em.btn_save", "de"))
    assert bot.screen(greta).text.startswith("Gespeichert.\n\nSie haben die 1122 gespeichert.")


def _now(bot: Harness, person: Person, message: ChatMessage) -> str:
    """The text of a message as it reads now (after edits)."""
    return next(m.text for m in bot.api.chat(person.chat_id) if m.message_id == message.message_id)
