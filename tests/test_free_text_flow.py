"""Free text through the real Application: read for warning signs wherever it arrives (a note,
the middle of a check-in, after the summary, out of the blue), with negation, other people and
hedges handled, and one decisive escalation."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from loguru import logger
from sqlalchemy import select

from bot.logging_setup import silence_loguru
from db.models import CheckIn
from tests.harness import Harness, Person, text_update
from tests.test_checkin_flow import (
    BLADDER,
    DONE,
    advice_messages,
    checkins,
    escalations,
    onboard,
    onboard_in,
    up_to_warnings,
)


async def finish_calm(bot: Harness, person: Person) -> None:
    await up_to_warnings(bot, person)
    await bot.press(person, "None of these")
    assert "your check-in is saved" in bot.screen(person).text


async def test_a_warning_sign_in_the_note_escalates_and_nothing_milder_follows(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await finish_calm(bot, pat)
    await bot.press(pat, "📝 Add a note")
    assert "Type your note" in bot.screen(pat).text
    await bot.send(pat, "Since this morning I can't pee at all")
    texts = bot.api.texts_sent(pat.chat_id)
    assert texts[-1].startswith("<b>🚨 Please call 112 now")
    assert "urine or stool" in texts[-1]
    [checkin] = await checkins(bot)
    assert checkin.note == "Since this morning I can't pee at all"
    [escalation] = await escalations(bot)
    assert (escalation.tier, escalation.checkin_id) == ("emergency", checkin.id)
    assert escalation.findings == "bladder_bowel"


async def test_text_in_the_middle_of_a_check_in_is_read_and_kept(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone="London")
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4", "Lower back", DONE)
    question = bot.screen(pat)
    await bot.send(pat, "by the way I've had a fever since last night and feel shivery")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>⚠️ Please get medical advice today.")
    assert "call NHS 111" in advice
    # The check-in goes on from the same question; what was typed is kept with it.
    assert "What does it feel like" in question.text and question.buttons()
    [checkin] = await checkins(bot)
    assert checkin.status == "open" and "fever" in (checkin.note or "")
    await bot.press(pat, "Aching or stiff", DONE, "Tiredness (fatigue)", DONE, "None of these")
    # The question (above the advice) became the summary: no tip after urgent advice.
    [summary] = [m for m in bot.api.chat(pat.chat_id) if "your check-in is saved" in m.text]
    assert "follow the advice above" in summary.text and "💡" not in summary.text
    assert [e.tier for e in await escalations(bot)] == ["urgent"]


async def test_an_emergency_typed_mid_check_in_closes_it_with_answers_kept(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "6", "Lower back", DONE)
    await bot.send(pat, "my legs just gave way and I can't stand up")
    assert bot.api.texts_sent(pat.chat_id)[-1].startswith("<b>🚨")
    [checkin] = await checkins(bot)
    assert checkin.status == "complete" and checkin.pain_score == 6
    # The old question has no buttons left: nothing to tap after the emergency advice.
    assert all(not m.buttons() for m in bot.api.chat(pat.chat_id)[-2:])


async def test_text_just_after_the_summary_is_read_and_added_as_a_note(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await finish_calm(bot, pat)
    await bot.send(pat, "forgot to say, I wet myself this morning and never have before")
    assert bot.api.texts_sent(pat.chat_id)[-1].startswith("<b>🚨")
    [checkin] = await checkins(bot)
    assert "wet myself" in (checkin.note or "")
    [escalation] = await escalations(bot)
    assert escalation.checkin_id == checkin.id


async def test_text_out_of_the_blue_is_read(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "I can't feel my bum at all since this morning")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>🚨") and "genitals, bottom or inner thighs" in advice
    [escalation] = await escalations(bot)
    assert escalation.checkin_id is None and escalation.findings == "saddle"


@pytest.mark.parametrize(
    "text",
    [
        "no loss of bladder control, all normal",
        "my son wet the bed last night",
        "last year I lost control of my bladder but it's fine now",
        "what should I do if I can't pee?",
        "tired today but my back is ok",
    ],
)
async def test_denials_other_people_the_past_and_questions_raise_no_alarm(
    bot: Harness, pat: Person, text: str
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, text)
    assert advice_messages(bot, pat) == []
    assert await escalations(bot) == []
    assert "/checkin" in bot.api.texts_sent(pat.chat_id)[-1]  # the help list, calmly


async def test_a_hedged_warning_sign_is_asked_about_not_guessed(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "I think my bum might be a bit numb?")
    ask = bot.screen(pat)
    assert "Is this new since your last check-in?" in ask.text
    assert ask.labels() == ["Yes, it's new", "No, not new"]
    assert await escalations(bot) == []
    await bot.press(pat, "Yes, it's new")
    assert bot.api.texts_sent(pat.chat_id)[-1].startswith("<b>🚨")
    assert [e.findings for e in await escalations(bot)] == ["saddle"]


async def test_not_new_is_taken_calmly(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "maybe my bum is a bit numb?")
    await bot.press(pat, "No, not new")
    assert "If it changes or gets worse" in bot.screen(pat).text
    assert await escalations(bot) == []


async def test_a_patient_cannot_talk_the_bot_out_of_an_emergency_answered_by_button(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    await bot.press(pat, BLADDER, DONE)
    await bot.send(pat, "actually no, I'm fine, no bladder problems at all")
    [escalation] = await escalations(bot)
    assert escalation.tier == "emergency"
    [checkin] = await checkins(bot)
    assert checkin.state["escalated"] == "emergency"
    assert [a for a in advice_messages(bot, pat) if not a.startswith("<b>🚨")] == []


async def test_a_typed_time_zone_is_still_taken_as_one(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/start")
    await bot.press(pat, "Yes, that's OK", "Other (type it)")
    await bot.send(pat, "Europe/Paris")
    assert "Saved: Europe/Paris" in bot.api.texts_sent(pat.chat_id)[-2]


async def test_what_patients_type_never_reaches_a_log(
    bot: Harness, pat: Person, caplog: pytest.LogCaptureFixture
) -> None:
    silence_loguru()
    leaked: list[str] = []
    sink = logger.add(leaked.append, level="TRACE")
    caplog.set_level(logging.DEBUG)
    try:
        await onboard(bot, pat)
        secret = "xyzzy I wet myself and can't feel my bum plugh"
        await bot.send(pat, secret)
        await bot.send(pat, "plugh maybe numb down there? xyzzy")
    finally:
        logger.remove(sink)
    logged = caplog.text + "".join(leaked)
    assert "xyzzy" not in logged and "plugh" not in logged
    assert await escalations(bot)  # it was read, and escalated


async def test_free_text_is_stored_only_with_a_check_in(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "hello there")
    async with bot.services.sessions() as session:
        notes = (await session.scalars(select(CheckIn.note))).all()
    assert notes == []


@pytest.mark.parametrize(
    ("text", "profile", "head"),
    [
        ("my legs gave way and I can't stand up", ("No", "No", "No"), "<b>🚨"),
        ("I've got a fever and the shivers", ("No", "No", "No"), "<b>⚠️"),
        ("I fell over on the ice this morning", ("No", "Yes", "No"), "<b>⚠️"),
        ("I fell over on the ice this morning", ("No", "No", "No"), "<b>ℹ️"),
        ("I've lost a stone without trying", ("No", "No", "No"), "<b>ℹ️"),
        ("I've lost a stone without trying", ("No", "No", "Yes"), "<b>⚠️"),
    ],
)
async def test_each_tier_by_text_with_the_profile_deciding(
    bot: Harness, pat: Person, text: str, profile: tuple[str, str, str], head: str
) -> None:
    await onboard(bot, pat, profile=profile)
    await bot.send(pat, text)
    [advice] = advice_messages(bot, pat)
    assert advice.startswith(head)


async def test_outside_a_check_in_a_later_message_never_gets_milder_advice(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "I can't pee at all since last night")
    await bot.send(pat, "and now I've got a fever and the shivers")
    heads = [a[:4] for a in advice_messages(bot, pat)]
    assert heads == ["<b>🚨"]  # the urgent fever advice is not sent after the emergency
    assert [e.tier for e in await escalations(bot)] == ["emergency"]


def _message(person: Person, **content: object) -> dict[str, object]:
    update = text_update(person, "x")
    message = update["message"]
    del message["text"]
    message.update(content)
    return update


async def test_a_photo_caption_is_read_and_a_voice_message_gets_a_plain_reply(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10}]
    await bot.process(_message(pat, photo=photo, caption="look, I wet myself this morning"))
    assert advice_messages(bot, pat)[-1].startswith("<b>🚨")
    voice = {"file_id": "v1", "file_unique_id": "u2", "duration": 3}
    await bot.process(_message(pat, voice=voice))
    assert "only read typed words" in bot.api.texts_sent(pat.chat_id)[-1]
    assert "emergency number" in bot.api.texts_sent(pat.chat_id)[-1]


async def test_an_edited_message_never_gives_the_same_advice_twice(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    first = text_update(pat, "I can't pee at all since last night")
    await bot.process(first)
    edited = {"update_id": first["update_id"] + 100_000, "edited_message": first["message"]}
    edited["edited_message"]["edit_date"] = edited["edited_message"]["date"]
    await bot.process(edited)
    assert len(advice_messages(bot, pat)) == 1
    assert len(await escalations(bot)) == 1


def _edit(update: dict[str, Any], text: str, nth: int = 1) -> dict[str, Any]:
    """The update Telegram sends when the patient edits that message (the ``nth`` time) to read
    ``text``."""
    message = {**update["message"], "text": text, "edit_date": update["message"]["date"] + nth}
    return {"update_id": update["update_id"] + 100_000 + nth, "edited_message": message}


@pytest.mark.parametrize(
    ("language", "calm", "sign", "emergency"),
    [
        ("en", "my back is sore today", "my back is sore today and I can't pee since this "
         "morning", "<b>🚨 Please call 112 now, or go straight to the nearest emergency "
         "department.</b>"),
        ("de", "der Rücken tut heute weh", "der Rücken tut heute weh und seit heute früh kann "
         "ich nicht pinkeln", "<b>🚨 Bitte rufen Sie jetzt den Notruf 112 an, oder gehen Sie "
         "direkt in die nächste Notaufnahme.</b>"),
    ],
)  # fmt: skip
async def test_a_warning_sign_added_by_editing_a_message_gets_its_advice(
    bot: Harness, language: str, calm: str, sign: str, emergency: str
) -> None:
    """The patient edits a message they sent: a warning sign the edit added is advised on at
    once; an edit that adds none gets no reply (the first version was answered)."""
    pat = Person(5151, "Pat", language)
    await onboard_in(bot, pat, "Berlin", language)
    first = text_update(pat, calm)
    await bot.process(first)
    assert advice_messages(bot, pat) == []
    before = len(bot.api.texts_sent(pat.chat_id))
    await bot.process(_edit(first, calm + "!"))
    assert len(bot.api.texts_sent(pat.chat_id)) == before  # nothing new: nothing said
    await bot.process(_edit(first, sign, nth=2))
    [advice] = advice_messages(bot, pat)
    assert advice.startswith(emergency)
    assert [e.findings for e in await escalations(bot)] == ["bladder_bowel"]


@pytest.mark.parametrize(
    ("language", "sign", "emergency", "calm", "fever", "urgent"),
    [
        ("en", "since this morning I can't pee at all", "<b>🚨 Please call 112 now",
         "my back is a bit stiff today", "I've had a fever since last night",
         "<b>⚠️ Please get medical advice today."),
        ("de", "seit heute früh kann ich nicht pinkeln", "<b>🚨 Bitte rufen Sie jetzt den Notruf "
         "112 an", "der Rücken ist heute etwas steif", "seit gestern Abend habe ich Fieber",
         "<b>⚠️ Bitte holen Sie sich heute medizinischen Rat."),
    ],
)  # fmt: skip
async def test_words_typed_after_a_command_are_read_for_warning_signs(
    bot: Harness, language: str, sign: str, emergency: str, calm: str, fever: str, urgent: str
) -> None:
    """Words after a command ("/checkin since this morning I can't pee"), a known one or a
    mistyped one, get their advice before the command runs; after emergency advice nothing
    follows. Calm words leave the command to answer; urgent advice comes before its question."""
    for n, command in enumerate(("/checkin", "/chekin")):
        pat = Person(5250 + n, "Pat", language)
        await onboard_in(bot, pat, "Berlin", language)
        before = len(bot.api.texts_sent(pat.chat_id))
        await bot.process(text_update(pat, f"{command} {sign}"))
        new = bot.api.texts_sent(pat.chat_id)[before:]
        assert len(new) == 1 and new[0].startswith(emergency), new
        assert bot.api.chat(pat.chat_id)[-1].buttons() == []
    assert [e.findings for e in await escalations(bot)] == ["bladder_bowel"] * 2
    assert all(c.status != "open" for c in await checkins(bot))

    calm_pat = Person(5253, "Sam", language)
    await onboard_in(bot, calm_pat, "Berlin", language)
    await bot.process(text_update(calm_pat, f"/checkin {calm}"))
    assert advice_messages(bot, calm_pat) == []
    assert bot.screen(calm_pat).buttons()  # the check-in's first question

    ill_pat = Person(5254, "Kim", language)
    await onboard_in(bot, ill_pat, "Berlin", language)
    await bot.process(text_update(ill_pat, f"/checkin {fever}"))
    [advice] = advice_messages(bot, ill_pat)
    assert advice.startswith(urgent)
    assert bot.api.chat(ill_pat.chat_id)[-1].buttons()  # then the check-in's first question


async def test_a_sign_typed_into_a_mistyped_command_and_after_cancel_is_read(
    bot: Harness, pat: Person
) -> None:
    """ "/can't pee since this morning" is the command "/can" to Telegram: the whole text is
    read. Urgent advice in words after /cancel comes first; the check-in is then cancelled,
    and nothing says its question is still there."""
    await onboard(bot, pat)
    await bot.send(pat, "/can't pee since this morning")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>🚨 Please call 112 now")

    kim = Person(5355, "Kim")
    await onboard(bot, kim)
    await bot.send(kim, "/checkin")
    before = len(bot.api.texts_sent(kim.chat_id))
    await bot.send(kim, "/cancel I have a fever and feel shivery")
    [advice] = advice_messages(bot, kim)
    assert advice.startswith("<b>⚠️ Please get medical advice today.")
    said = bot.api.texts_sent(kim.chat_id)[before:]
    assert not any(t.startswith("I've added that to this check-in") for t in said), said
    assert [c.status for c in await checkins(bot) if c.status != "complete"] == ["cancelled"]


@pytest.mark.parametrize(
    ("language", "sign", "close", "saved", "fever", "added"),
    [
        ("en", "I can't pee at all since this morning",
         "Ask someone to take you, or call an ambulance.", "Your answers are saved",
         "I have a fever and feel shivery", "I've added that to this check-in. Please tap"),
        ("de", "seit heute früh kann ich gar nicht pinkeln",
         "oder rufen Sie einen Rettungswagen.", "Ihre Antworten sind gespeichert",
         "ich habe Fieber und Schüttelfrost", "Ich habe das zu diesem Check-in hinzugefügt."),
    ],
)  # fmt: skip
async def test_the_advice_says_what_became_of_the_check_in(
    bot: Harness, language: str, sign: str, close: str, saved: str, fever: str, added: str
) -> None:
    """Emergency advice for a sign typed outside any check-in does not claim answers were
    saved; urgent advice typed in the middle of a check-in says its question is still open."""
    pat = Person(5353, "Pat", language)
    await onboard_in(bot, pat, "Berlin", language)
    await bot.send(pat, sign)
    [advice] = advice_messages(bot, pat)
    assert advice.endswith(close) and saved not in advice
    assert [e.checkin_id for e in await escalations(bot)] == [None]

    kim = Person(5354, "Kim", language)
    await onboard_in(bot, kim, "Berlin", language)
    await bot.send(kim, "/checkin")
    question = bot.screen(kim)
    await bot.send(kim, fever)
    [advice] = advice_messages(bot, kim)
    assert advice.startswith("<b>⚠️")
    assert bot.screen(kim).text.startswith(added)
    assert question.buttons()  # the check-in's question is still there to answer


async def test_outside_a_check_in_no_question_follows_advice_it_could_not_raise(
    bot: Harness, pat: Person
) -> None:
    """A hedged sign beside an emergency: the emergency advice stands alone (the question could
    only lead to milder advice), as inside a check-in."""
    await onboard(bot, pat)
    await bot.send(pat, "since this morning I can't pee at all, and maybe a bit of a temperature?")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>🚨 Please call 112 now")
    sent = bot.api.texts_sent(pat.chat_id)
    assert not any("Is this new since your last check-in?" in text for text in sent)
    assert [e.findings for e in await escalations(bot)] == ["bladder_bowel"]


@pytest.mark.parametrize(
    ("language", "typed_for", "someone_else", "emergency"),
    [
        ("en", "Daughter typing for Mum: she fell down the stairs this morning and can't get up",
         "My daughter fell down the stairs this morning and can't get up",
         "<b>🚨 Please call 112 now"),
        ("de", "Ich schreibe für meine Mutter: sie ist heute früh die Treppe runtergefallen und "
         "kommt nicht mehr hoch", "Meine Tochter ist heute früh die Treppe runtergefallen und "
         "kommt nicht mehr hoch", "<b>🚨 Bitte rufen Sie jetzt den Notruf 112 an"),
    ],
)  # fmt: skip
async def test_a_message_typed_for_the_patient_by_someone_else_is_the_patients(
    bot: Harness, language: str, typed_for: str, someone_else: str, emergency: str
) -> None:
    """A carer may type for a patient whose hands or energy fail them: in a message that says so,
    "she" is the patient, and her warning sign gets the advice. The same sign of someone else,
    without such words, raises no alarm."""
    pat = Person(5252, "Pat", language)
    await onboard_in(bot, pat, "Berlin", language)
    await bot.send(pat, someone_else)
    assert advice_messages(bot, pat) == []
    await bot.send(pat, typed_for)
    [advice] = advice_messages(bot, pat)
    assert advice.startswith(emergency)
    [escalation] = await escalations(bot)
    assert "cant_walk" in escalation.findings.split()
