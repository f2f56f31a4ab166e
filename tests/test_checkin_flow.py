"""The check-in end to end through the real Application, on SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from db.models import CheckIn, CheckInAnswer, Escalation, SnippetDelivery
from tests.harness import Harness, Person


async def onboard(bot: Harness, person: Person, zone: str | None = "Berlin") -> None:
    await bot.send(person, "/start")
    await bot.press(person, "Yes, that's OK")
    if zone:
        await bot.press(person, zone)


async def checkins(bot: Harness) -> list[CheckIn]:
    async with bot.services.sessions() as session:
        return list((await session.scalars(select(CheckIn).order_by(CheckIn.id))).all())


async def escalations(bot: Harness) -> list[Escalation]:
    async with bot.services.sessions() as session:
        return list((await session.scalars(select(Escalation).order_by(Escalation.id))).all())


async def answers(bot: Harness, checkin_id: int) -> set[tuple[str, str]]:
    async with bot.services.sessions() as session:
        rows = await session.scalars(
            select(CheckInAnswer).where(CheckInAnswer.checkin_id == checkin_id)
        )
        return {(a.question, a.value) for a in rows}


async def test_full_checkin_is_one_message_edited_in_place(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    sent_before = len(bot.api.calls_of("sendMessage"))
    await bot.send(pat, "/checkin")
    assert "How much does your back hurt" in bot.screen(pat).text
    await bot.press(pat, "5")
    await bot.press(pat, "Lower back", "Spreads to buttocks, legs or feet", "Done ▶")
    await bot.press(pat, "Burning", "Done ▶")
    await bot.press(pat, "Tiredness (fatigue)", "Done ▶")

    summary = bot.screen(pat)
    assert "your check-in is saved" in summary.text
    assert "Pain: 5/10" in summary.text
    assert "Lower back, Spreads to buttocks, legs or feet" in summary.text
    assert "💡" in summary.text and "Source:" in summary.text
    assert summary.labels() == ["📝 Add a note"]
    # The whole check-in lived in one message: one new message, then edits.
    assert len(bot.api.calls_of("sendMessage")) == sent_before + 1

    [checkin] = await checkins(bot)
    assert checkin.status == "complete" and checkin.finished_at is not None
    assert checkin.pain_score == 5
    assert await answers(bot, checkin.id) == {
        ("where", "lower"),
        ("where", "legs"),
        ("feel", "burning"),
        ("symptoms", "fatigue"),
    }
    async with bot.services.sessions() as session:
        delivered = (await session.scalars(select(SnippetDelivery.snippet_id))).all()
    assert 1 <= len(delivered) <= 2
    assert await escalations(bot) == []
    assert not any("🚨" in t for t in bot.api.texts_sent(pat.chat_id))


async def test_no_pain_skips_where_and_feel(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0")
    assert "Anything else going on" in bot.screen(pat).text
    await bot.press(pat, "None of these")
    assert "Pain: 0/10" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert checkin.status == "complete"


async def test_checkin_without_red_flags_takes_at_most_six_taps_after_the_score(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "6")
    taps = 0
    for labels in (
        ("Middle back (like a band)", "Done ▶"),
        ("Aching or stiff", "Done ▶"),
        ("Stiffness or spasms", "Done ▶"),
    ):
        await bot.press(pat, *labels)
        taps += len(labels)
    assert taps == 6
    assert "your check-in is saved" in bot.screen(pat).text


async def red_flag_sequence(bot: Harness, pat: Person, question_after: str) -> None:
    """The red advice is sent, and only then the next question (a new message below it)."""
    sent = bot.api.calls_of("sendMessage")
    red_index = next(i for i, c in enumerate(sent) if "🚨" in c.params["text"])
    assert "urgent medical care" in sent[red_index].params["text"]
    assert sent[red_index].params.get("parse_mode") == "HTML"
    after = [c.params["text"] for c in sent[red_index + 1 :]]
    assert after and question_after in after[0]
    assert bot.screen(pat).text.startswith(question_after)


async def test_new_loss_of_bladder_control_escalates_before_the_next_question(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)  # Berlin: 112
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
    await bot.press(pat, "Bladder or bowel changes", "Done ▶")
    assert "new loss of control" in bot.screen(pat).text
    await bot.press(pat, "Yes")
    await red_flag_sequence(bot, pat, "Is there new numbness around")
    red = next(t for t in bot.api.texts_sent(pat.chat_id) if "🚨" in t)
    assert "call 112" in red and "spinal cord" in red and "saved" in red
    [escalation] = await escalations(bot)
    assert escalation.tier == "red"
    assert escalation.rule_ids == "red.bladder_loss"
    assert escalation.sent_at is not None
    # The check-in goes on and finishes; no second escalation for the same answer.
    await bot.press(pat, "No")
    assert "your check-in is saved" in bot.screen(pat).text
    assert len(await escalations(bot)) == 1


async def test_saddle_numbness_escalates(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone="London")
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", "Done ▶", "Burning", "Done ▶")
    await bot.press(pat, "Bladder or bowel changes", "Done ▶", "No")
    await bot.press(pat, "Yes")
    red = next(t for t in bot.api.texts_sent(pat.chat_id) if "🚨" in t)
    assert "call 999" in red and "genitals" in red
    assert [e.rule_ids for e in await escalations(bot)] == ["red.saddle_numbness"]
    assert "your check-in is saved" in bot.screen(pat).text


async def test_sudden_leg_weakness_escalates(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone="New York")
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Lower back", "Done ▶", "Burning", "Done ▶")
    await bot.press(pat, "Legs weak or heavy", "Done ▶")
    assert "come on suddenly" in bot.screen(pat).text
    await bot.press(pat, "Yes, suddenly")
    red = next(t for t in bot.api.texts_sent(pat.chat_id) if "🚨" in t)
    assert "call 911" in red
    assert [e.rule_ids for e in await escalations(bot)] == ["red.sudden_leg_weakness"]


async def test_severe_pain_after_injury_escalates_at_once(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone=None)  # no time zone: no country known
    await bot.send(pat, "/checkin")
    await bot.press(pat, "8")
    assert "fall or an injury" in bot.screen(pat).text
    await bot.press(pat, "Yes")
    await red_flag_sequence(bot, pat, "Where is the pain?")
    red = next(t for t in bot.api.texts_sent(pat.chat_id) if "🚨" in t)
    assert "call your local emergency number" in red
    assert [e.rule_ids for e in await escalations(bot)] == ["red.severe_pain_after_injury"]


async def test_red_flag_phrase_in_the_note_escalates(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "2", "Neck or upper back", "Done ▶")
    await bot.press(pat, "Tingling, pins and needles", "Done ▶", "None of these")
    await bot.press(pat, "📝 Add a note")
    assert "Type your note" in bot.screen(pat).text
    await bot.send(pat, "Since this morning I can't pee at all")
    texts = bot.api.texts_sent(pat.chat_id)
    assert "🚨" in texts[-2] and "call 112" in texts[-2]
    assert "note is saved" in texts[-1]
    [checkin] = await checkins(bot)
    assert checkin.note == "Since this morning I can't pee at all"
    assert [e.rule_ids for e in await escalations(bot)] == ["red.note_phrase"]


async def test_a_calm_note_is_saved_without_escalation(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "📝 Add a note")
    await bot.send(pat, "Walked to the shop, felt fine")
    assert "note is saved" in bot.screen(pat).text
    assert await escalations(bot) == []


async def test_pain_well_above_recent_level_gets_amber_advice(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    for _ in range(2):
        await bot.send(pat, "/checkin")
        await bot.press(pat, "2", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
        await bot.press(pat, "None of these")
        bot.clock.advance(days=1)
    assert await escalations(bot) == []
    await bot.send(pat, "/checkin")
    await bot.press(pat, "6", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
    await bot.press(pat, "None of these")
    last = bot.api.texts_sent(pat.chat_id)[-1]
    assert "contact your MS team soon" in last and "relapse" in last
    [escalation] = await escalations(bot)
    assert (escalation.tier, escalation.rule_ids) == ("amber", "amber.worsening")
    assert escalation.sent_at is not None


async def test_new_neurological_symptom_gets_amber_advice(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
    await bot.press(pat, "Tiredness (fatigue)", "Done ▶")
    bot.clock.advance(days=1)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
    await bot.press(pat, "Balance or walking", "Done ▶")
    assert [e.rule_ids for e in await escalations(bot)] == ["amber.new_neuro_symptom"]


async def test_back_restores_ticks_and_cancel_closes_without_completing(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Lower back", "One side: left", "Done ▶")
    assert "What does it feel like" in bot.screen(pat).text
    await bot.press(pat, "« Back")
    screen = bot.screen(pat)
    assert "Where is the pain" in screen.text
    assert "✅ Lower back" in screen.labels() and "✅ One side: left" in screen.labels()
    await bot.press(pat, "« Back")
    assert "How much does your back hurt" in bot.screen(pat).text
    assert "« Back" not in bot.screen(pat).labels()
    await bot.press(pat, "Cancel")
    assert "cancelled" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert checkin.status == "cancelled" and checkin.finished_at is None
    assert await answers(bot, checkin.id) == set()


async def test_done_with_nothing_ticked_asks_for_a_choice(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Done ▶")
    toast = bot.api.calls_of("answerCallbackQuery")[-1].params
    assert "at least one" in toast.get("text", "")
    assert "Where is the pain" in bot.screen(pat).text


async def test_new_symptom_lasting_over_a_day_is_stored_as_a_possible_relapse(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)

    async def checkin(symptom: str) -> None:
        await bot.send(pat, "/checkin")
        await bot.press(pat, "3", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
        if symptom == "None of these":
            await bot.press(pat, symptom)
        else:
            await bot.press(pat, symptom, "Done ▶", "No, slowly or not new")

    await checkin("None of these")
    bot.clock.advance(days=2)
    await checkin("Numbness or tingling")
    bot.clock.advance(hours=13)
    await checkin("Numbness or tingling")
    bot.clock.advance(hours=13)
    await checkin("Numbness or tingling")
    bot.clock.advance(hours=13)
    await checkin("Numbness or tingling")
    assert [e.rule_ids for e in await escalations(bot)] == [
        "amber.new_neuro_symptom",
        "amber.possible_relapse",
    ]
    assert any("lasted more than a day" in t for t in bot.api.texts_sent(pat.chat_id))
