"""No dead ends: /cancel and /stop wherever the bot waits, a reply to every command, /help that
fits where the person is, and a polite exit from groups."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from content.loader import default_catalog
from db.models import CheckIn, User
from tests.harness import Harness, Person, find_button, text_update
from tests.test_checkin_flow import onboard, onboard_in


async def test_cancel_stops_a_check_in_and_closes_its_question(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4")
    question = bot.screen(pat)
    assert question.labels()
    await bot.send(pat, "/cancel")
    assert question.text.startswith("Check-in stopped.") and question.labels() == []
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CheckIn.status))).all() == ["cancelled"]
    await bot.send(pat, "/cancel")  # again: nothing left to stop, and it says so
    assert bot.screen(pat).text.startswith("There is nothing to stop,")
    assert "nothing was changed" in bot.screen(pat).text


async def test_stop_leaves_typing_a_time_zone_and_says_what_was_kept(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/timezone")
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, "/stop")
    assert bot.screen(pat).text.startswith("OK, stopped. Your time zone stays as it was.")
    await bot.send(pat, "Tokyo")  # no longer taken as a time zone
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "Europe/Berlin"


async def test_cancel_leaves_adding_a_note(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these", "📝 Add a note")
    await bot.send(pat, "/cancel")
    assert bot.screen(pat).text == "OK, no note added. Your check-in is saved as it was."
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CheckIn.status))).all() == ["complete"]


async def cancel_then_tap(bot: Harness, pat: Person, label: str, stopped: str, stale: str) -> None:
    """/cancel while a question with a ``label`` button waits: the reply starts ``stopped``;
    the question's button, tapped afterwards, says ``stale`` and does nothing."""
    question = bot.message_with(pat, label)
    await bot.send(pat, "/cancel")
    assert bot.screen(pat).text.startswith(stopped)
    await bot.tap(pat, find_button(question, label), question)
    assert question.text.startswith(stale)


@pytest.mark.parametrize(
    ("language", "delete", "stopped", "stale"),
    [
        ("en", "Delete everything", "OK, stopped. Nothing was deleted: your data is kept.",
         "That button is from an older message, so I did nothing."),
        ("de", "Alles löschen", "Gut, beendet. Es wurde nichts gelöscht: Ihre Daten bleiben.",
         "Dieser Button gehört zu einer älteren Nachricht, deshalb habe ich nichts getan."),
    ],
)  # fmt: skip
async def test_cancel_stops_the_delete_question_and_its_button_then_does_nothing(
    bot: Harness, language: str, delete: str, stopped: str, stale: str
) -> None:
    pat = Person(6161, "Pat", language)
    await onboard_in(bot, pat, "Berlin", language)
    await bot.send(pat, "/delete")
    await cancel_then_tap(bot, pat, delete, stopped, stale)
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    ("language", "agree", "stopped", "stale", "start"),
    [
        ("en", "Yes, that's OK", "OK, stopped. No health details were stored.",
         "That button is from an older message, so I did nothing.", "Before you start:\n/start"),
        ("de", "Ja, einverstanden", "Gut, beendet. Es wurden keine Gesundheitsdaten gespeichert.",
         "Dieser Button gehört zu einer älteren Nachricht", "Bevor Sie beginnen:\n/start"),
    ],
)  # fmt: skip
async def test_cancel_at_the_consent_question_keeps_nothing_and_help_says_how_to_begin(
    bot: Harness, language: str, agree: str, stopped: str, stale: str, start: str
) -> None:
    pat = Person(6262, "Pat", language)
    await bot.send(pat, "/help")  # before /start: how to begin comes first
    assert bot.screen(pat).text.startswith(start)
    await bot.send(pat, "/start")
    await cancel_then_tap(bot, pat, agree, stopped, stale)
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_cancel_never_drops_a_caregiver_who_had_not_started_for_themselves(
    bot: Harness, pat: Person
) -> None:
    """A caregiver who follows someone but never agreed to check-ins of their own: /start then
    /cancel keeps them and their link (the patient's alerts would otherwise stop unseen)."""
    from db.models import CaregiverLink
    from tests.test_caregivers import link

    await onboard(bot, pat)
    sam = Person(6666, "Sam")
    await link(bot, pat, sam)
    await bot.send(sam, "/start")
    await bot.send(sam, "/cancel")
    assert bot.screen(sam).text.startswith("OK, stopped. No health details were stored.")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CaregiverLink)) == 1
        assert await session.scalar(select(func.count()).select_from(User)) == 2


async def test_cancel_ends_the_open_check_in_before_an_old_delete_question(
    bot: Harness, pat: Person
) -> None:
    """/delete left unanswered, then a check-in: /cancel ends the check-in, and the delete
    question's button stops working with it."""
    await onboard(bot, pat)
    await bot.send(pat, "/delete")
    question = bot.message_with(pat, "Delete everything")
    await bot.send(pat, "/checkin")
    await bot.send(pat, "/cancel")
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CheckIn.status))).all() == ["cancelled"]
    await bot.tap(pat, find_button(question, "Delete everything"), question)
    assert question.text.startswith("That button is from an older message")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("language", ["en", "de"])
async def test_cancel_while_typing_a_time_or_a_date_says_what_was_kept(
    bot: Harness, language: str
) -> None:
    """In both languages: /cancel while the bot waits for a reminder time or a pause date says
    what stays as it was, and what is typed next is not taken as that answer."""
    from tests.test_reminders import rule_of

    t = default_catalog().text
    pat = Person(6767, "Pat", language)
    await onboard_in(bot, pat, "Berlin", language)
    await bot.press(pat, "09:00")
    await bot.send(pat, "/settings")
    await bot.press(pat, t("settings.btn_times", language), t("settings.btn_type_time", language))
    await bot.send(pat, "/cancel")
    assert bot.screen(pat).text == t("cancel.time", language)
    await bot.send(pat, "/settings")
    await bot.press(pat, t("settings.btn_pause", language), t("settings.btn_pause_date", language))
    await bot.send(pat, "/stop")
    assert bot.screen(pat).text == t("cancel.pause", language)
    await bot.send(pat, "20.3")  # no longer a pause date
    rule = await rule_of(bot)
    assert list(rule.times) == ["09:00"] and rule.paused_until is None
    await bot.send(pat, "/chekin")
    assert bot.screen(pat).text == t("command.unknown", language)


async def test_words_after_start_are_not_taken_for_an_invite_and_the_safety_line_is_given(
    bot: Harness, pat: Person
) -> None:
    """Someone new types "/start I can't pee since this morning": the words are not an invite
    link (no "this invite link is not valid"); they are asked for their OK as anyone is, and
    until they give it, every reply names the local emergency number."""
    await bot.send(pat, "/start I can't pee since this morning")
    welcome = bot.screen(pat)
    assert welcome.labels() == ["Yes, that's OK", "Not now"]
    assert "call your local emergency number" in welcome.text
    await bot.send(pat, "I really can't pee")
    assert bot.screen(pat).text.endswith(
        "If you feel very unwell now, call your local emergency number."
    )


async def test_an_unknown_command_gets_a_reply(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/chekin")
    assert bot.screen(pat).text == "I don't know that command. /help lists what I can do."


@pytest.mark.parametrize("language", ["en", "de"])
async def test_during_set_up_help_and_cancel_say_what_is_left_to_do(
    bot: Harness, language: str
) -> None:
    t = default_catalog().text
    pat = Person(6565, "Pat", language)
    await onboard(bot, pat, zone=None)  # consented, no place yet
    await bot.send(pat, "/help")
    assert bot.screen(pat).text.startswith(t("help.now_zone", language))
    await bot.send(pat, "/cancel")
    assert bot.screen(pat).text == t("cancel.onboarding", language)
    async with bot.services.sessions() as session:  # the consent stays; no zone was guessed
        assert (await session.scalars(select(User.timezone))).all() == [None]


async def test_text_out_of_the_blue_gets_a_short_reply(bot: Harness, pat: Person) -> None:
    """Not the whole command list: where typed words are kept, how to start, and that nobody
    reads the chat (with the emergency line)."""
    await onboard(bot, pat)
    await bot.send(pat, "lovely weather today")
    assert bot.screen(pat).text == (
        "I keep typed words with a check-in, and none is open now. To note how you are, send "
        "/checkin. No doctor or nurse reads this chat: if you feel very unwell, call your local "
        "emergency number."
    )


async def test_help_says_where_the_person_is(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/help")
    assert bot.screen(pat).text.startswith("Here is what I can do:")
    await bot.send(pat, "/checkin")
    await bot.send(pat, "/help")
    assert bot.screen(pat).text.startswith("You are in the middle of a check-in")
    assert "/cancel" in bot.screen(pat).text


@pytest.mark.parametrize("language", ["en", "de"])
async def test_added_to_a_group_it_explains_once_and_leaves(bot: Harness, language: str) -> None:
    t = default_catalog().text
    pat = Person(6464, "Pat", language)
    group = {"id": -100600, "type": "group", "title": "Family"}
    member = {"user": {"id": 99, "is_bot": True, "first_name": "Bot"}}
    update = {
        "update_id": 987654,
        "my_chat_member": {
            "chat": group,
            "from": pat.user_json(),
            "date": int(time.time()),
            "old_chat_member": {**member, "status": "left"},
            "new_chat_member": {**member, "status": "member"},
        },
    }
    await bot.process(update)
    assert bot.api.texts_sent(-100600) == [t("group.leaving", language)]
    [left] = bot.api.calls_of("leaveChat")
    assert int(left.params["chat_id"]) == -100600
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
    # A message that was already on its way gets the one-line notice; nothing is stored.
    await bot.process(text_update(pat, "/checkin", chat=group))
    assert bot.api.texts_sent(-100600)[-1] == t("private.only", language)
    await bot.process(text_update(pat, "my legs have gone numb", chat=group))
    async with bot.services.sessions() as session:  # nothing from a group is stored
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 0


async def test_a_note_can_be_kept_changed_or_removed_and_old_buttons_say_what_is_true(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these", "📝 Add a note")
    prompt = bot.message_with(pat, "Cancel")
    stale_cancel = find_button(prompt, "Cancel")
    await bot.send(pat, "gardening all morning")
    assert bot.screen(pat).text == "Your note is saved. Thank you."
    # The first prompt's Cancel, tapped after the note was saved: the note stays, and it says so.
    await bot.tap(pat, stale_cancel, prompt)
    assert prompt.text == "OK. Your note is kept as it is."

    await bot.press(pat, "📝 Add a note")
    assert "Your note so far: “gardening all morning”" in bot.screen(pat).text
    await bot.press(pat, "Keep it")
    assert bot.screen(pat).text == "OK. Your note is kept as it is."
    await bot.press(pat, "📝 Add a note")
    await bot.send(pat, "sore after gardening")  # a new note replaces it, as the prompt said
    await bot.press(pat, "📝 Add a note")
    assert "“sore after gardening”" in bot.screen(pat).text
    await bot.press(pat, "Remove the note")
    assert bot.screen(pat).text == "The note is removed. Your check-in is kept."
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CheckIn.note))).all() == [None]


@pytest.mark.parametrize("language", ["en", "de"])
async def test_old_note_buttons_never_act_on_a_newer_note_or_another_wait(
    bot: Harness, language: str
) -> None:
    """An old "Remove the note" does not remove a note written after it was shown; an old
    note "Cancel" does not end a wait the bot began since (here for a time zone)."""
    t = default_catalog().text
    pat = Person(6363, "Pat", language)
    await onboard_in(bot, pat, "Berlin", language)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", t("opt.symptoms.none", language), t("opt.warning.none", language))
    await bot.press(pat, t("button.add_note", language))
    first_prompt = bot.message_with(pat, t("button.cancel", language))
    await bot.send(pat, "gardening all morning")
    await bot.press(pat, t("button.add_note", language))
    old_remove = bot.message_with(pat, t("button.note_remove", language))
    await bot.send(pat, "sore after the garden centre")  # a new note replaces the first
    await bot.tap(pat, find_button(old_remove, t("button.note_remove", language)), old_remove)
    assert old_remove.text == t("note.changed", language)
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CheckIn.note))).all() == [
            "sore after the garden centre"
        ]

    await bot.send(pat, "/timezone")
    await bot.press(pat, t("tz.other_button", language))
    cancel = find_button(first_prompt, t("button.cancel", language))
    await bot.tap(pat, cancel, first_prompt)
    assert first_prompt.text == t("note.kept", language)
    await bot.send(pat, "Tokyo")  # still the time zone the bot asked for, not a note
    async with bot.services.sessions() as session:
        assert await session.scalar(select(User.timezone)) == "Asia/Tokyo"
        assert (await session.scalars(select(CheckIn.note))).all() == [
            "sore after the garden centre"
        ]


def test_everything_the_bot_asks_to_type_has_a_handler_and_a_way_out() -> None:
    from bot.awaiting import TYPED_INPUT, Expect
    from handlers.checkin import _TYPED
    from handlers.stop import _STOPPED

    assert set(_TYPED) == TYPED_INPUT
    assert set(_STOPPED) == set(Expect)  # /cancel says what was kept, whatever was asked


@pytest.mark.parametrize(
    ("language", "town", "zone"),
    [("en", "Vienna", "Europe/Vienna"), ("de", "Wien", "Europe/Vienna")],
)
async def test_a_town_typed_at_the_place_list_is_taken_without_tapping_other(
    bot: Harness, language: str, town: str, zone: str
) -> None:
    """The list after consent (and /timezone) says a town may be typed: it is read as one,
    not answered as a stray message."""
    t = default_catalog().text
    pat = Person(6566, "Pat", language)
    await onboard(bot, pat, zone=None)
    await bot.send(pat, town)
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(User.timezone))).all() == [zone]
    assert t("profile.q.imm", language) in bot.screen(pat).text  # setting up goes on


@pytest.mark.parametrize("language", ["en", "de"])
async def test_words_typed_under_a_profile_question_get_the_question_again(
    bot: Harness, language: str
) -> None:
    t = default_catalog().text
    pat = Person(6567, "Pat", language)
    await onboard(bot, pat, zone=None)
    await bot.press(pat, "Berlin")
    await bot.send(pat, "yes I take ocrevus")
    yes, no, unsure = (t(f"profile.{a}", language) for a in ("yes", "no", "unsure"))
    assert bot.recent(pat, 2).startswith(t("profile.tap", language, yes=yes, no=no, unsure=unsure))
    assert bot.screen(pat).labels() == [yes, no, unsure]
    await bot.press(pat, yes, no, no)  # the questions answered by tapping, as first asked
    async with bot.services.sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None and user.immunosuppressed is True and user.profile_at
