"""The check-in end to end through the real Application, on SQLite and on PostgreSQL: the
questions, each tier of advice by button, one decisive escalation, and the profile's effect."""

from __future__ import annotations

from sqlalchemy import func, select

from content.loader import default_catalog
from db.models import CheckIn, CheckInAnswer, Escalation, SnippetDelivery
from tests.harness import Harness, Person

DONE = "Done ▶"
BLADDER = "Trouble holding or passing urine or stool"
SADDLE = "Numb around genitals, bottom or inner thighs"
FEVER = "Fever, or hot and shivery"
FALL = "A fall or an injury"
CHEST = "Chest pain or short of breath"
STROKE = "Face drooping, arm weak or speech slurred"
ONE_SIDE = "Weakness or numbness on one side, over hours or days"


async def onboard(
    bot: Harness,
    person: Person,
    zone: str | None = "Berlin",
    profile: tuple[str, str, str] | None = None,
) -> None:
    """/start, consent, a time zone from the short list, then the three profile questions
    (treatment that lowers the defences, bone risk, cancer in the past), "No" to each unless
    ``profile`` says otherwise; in the person's language."""
    t = default_catalog().text
    await bot.send(person, "/start")
    await bot.press(person, t("start.consent_button", person.language))
    if zone:
        await bot.press(person, zone)
        for answer in profile or (t("profile.no", person.language),) * 3:
            await bot.press(person, answer)


async def onboard_in(bot: Harness, person: Person, place: str, lang: str = "en") -> None:
    """/start, consent, a place typed as the time zone, and "No" to the profile questions, in
    the person's language."""
    t = default_catalog().text
    await bot.send(person, "/start")
    await bot.press(person, t("start.consent_button", lang))
    await bot.press(person, t("tz.other_button", lang))
    await bot.send(person, place)
    for _ in range(3):
        await bot.press(person, t("profile.no", lang))


async def emergency_by_button(bot: Harness, person: Person, lang: str = "en") -> str:
    """A check-in with trouble holding urine or stool tapped: the emergency advice's text."""
    t = default_catalog().text
    await bot.send(person, "/checkin")
    await bot.press(person, "3", t("opt.where.lower", lang), t("button.done", lang))
    await bot.press(person, t("opt.feel.aching", lang), t("button.done", lang))
    await bot.press(person, t("opt.symptoms.none", lang))
    await bot.press(person, t("opt.warning.bladder_bowel", lang), t("button.done", lang))
    advice = [m.text for m in bot.api.chat(person.chat_id) if m.text.startswith("<b>🚨")]
    assert advice
    return advice[-1]


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


async def up_to_warnings(bot: Harness, person: Person, pain: str = "3") -> None:
    """A check-in up to the warning-signs screen: lower back, aching, tired."""
    await bot.send(person, "/checkin")
    await bot.press(person, pain)
    if pain != "0":
        await bot.press(person, "Lower back", DONE, "Aching or stiff", DONE)
    await bot.press(person, "Tiredness (fatigue)", DONE)
    assert "NEW since your last check-in" in bot.screen(person).text


def advice_messages(bot: Harness, person: Person) -> list[str]:
    """The advice the person received (bold first line: what to do, where, how soon)."""
    return [
        t
        for t in bot.api.texts_sent(person.chat_id)
        if t.removeprefix("<b>").startswith(("🚨", "⚠️", "ℹ️"))
    ]


async def test_full_checkin_is_one_message_edited_in_place(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    sent_before = len(bot.api.calls_of("sendMessage"))
    await bot.send(pat, "/checkin")
    assert "How much does your back hurt" in bot.screen(pat).text
    await bot.press(pat, "5")
    await bot.press(pat, "Lower back", "Spreads to buttocks, legs or feet", DONE)
    await bot.press(pat, "Burning", DONE)
    await bot.press(pat, "Tiredness (fatigue)", DONE)
    await bot.press(pat, "None of these")

    summary = bot.screen(pat)
    assert "your check-in is saved" in summary.text
    assert "Pain: 5/10" in summary.text
    assert "Lower back, Spreads to buttocks, legs or feet" in summary.text
    assert "💡" in summary.text and "Source:" in summary.text
    assert summary.labels() == ["📝 Add a note"]
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
    assert advice_messages(bot, pat) == []


async def test_a_calm_check_in_takes_at_most_seven_taps_after_the_score(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "6")
    taps = 0
    for labels in (
        ("Middle back (like a band)", DONE),
        ("Aching or stiff", DONE),
        ("Stiffness or spasms", DONE),
        ("None of these",),
    ):
        await bot.press(pat, *labels)
        taps += len(labels)
    assert taps == 7
    assert "your check-in is saved" in bot.screen(pat).text


async def test_no_pain_still_asks_the_warning_signs(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these")
    assert "NEW since your last check-in" in bot.screen(pat).text
    await bot.press(pat, "None of these")
    assert "Pain: 0/10" in bot.screen(pat).text


async def test_emergency_by_button_is_one_message_and_nothing_follows(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)  # Berlin: 112
    await up_to_warnings(bot, pat)
    sent_before = len(bot.api.calls_of("sendMessage"))
    await bot.press(pat, BLADDER, DONE)

    new = [c.params["text"] for c in bot.api.calls_of("sendMessage")[sent_before:]]
    assert len(new) == 1, new  # one message: the advice, and nothing after it
    advice = new[0]
    assert advice.startswith("<b>🚨 Please call 112 now")
    assert "go straight to the nearest emergency department." in advice
    assert "A&amp;E" not in advice  # the UK's name for it, said only in the UK
    assert "trouble holding or passing urine or stool" in advice
    assert "Don't drive yourself" in advice and "Why:" in advice
    assert advice.endswith("Your answers are saved. I won't ask anything more now.")
    assert bot.api.calls_of("sendMessage")[-1].params.get("parse_mode") == "HTML"
    # The old question lost its buttons and points to the advice (nothing carries on below);
    # the check-in is closed with what was answered.
    assert bot.api.chat(pat.chat_id)[-2].buttons() == []
    assert bot.api.chat(pat.chat_id)[-2].text == "Saved. Please read the advice below."
    [checkin] = await checkins(bot)
    assert checkin.status == "complete" and checkin.pain_score == 3
    assert ("warning", "bladder_bowel") in await answers(bot, checkin.id)
    [escalation] = await escalations(bot)
    assert escalation.tier == "emergency"
    assert escalation.rule_ids == "emergency.cauda_equina"
    assert escalation.findings == "bladder_bowel"
    assert escalation.sent_at is not None


async def test_several_warning_signs_give_one_message_listing_each(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat, zone="London")
    await up_to_warnings(bot, pat)
    await bot.press(pat, BLADDER, SADDLE, FEVER, DONE)
    [advice] = advice_messages(bot, pat)
    assert "call 999" in advice
    assert "the nearest emergency department (A&amp;E)" in advice
    for what in ("urine or stool", "genitals, bottom or inner thighs", "a fever"):
        assert what in advice
    [escalation] = await escalations(bot)
    assert escalation.tier == "emergency"
    assert set(escalation.rule_ids.split()) == {"emergency.cauda_equina", "urgent.fever"}


async def test_urgent_advice_first_then_the_check_in_ends_without_tips(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat, zone="London")
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, DONE)
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>⚠️ Please get medical advice today.")
    assert "call NHS 111" in advice and "call 999 at once" in advice
    summary = bot.screen(pat)
    assert "your check-in is saved" in summary.text
    assert "follow the advice above" in summary.text and "💡" not in summary.text
    # Nothing milder afterwards: no "contact your MS team soon" message.
    assert [a for a in advice_messages(bot, pat) if "ℹ️" in a] == []
    [escalation] = await escalations(bot)
    assert (escalation.tier, escalation.rule_ids) == ("urgent", "urgent.fever")


async def test_fever_advice_mentions_immune_lowering_treatment(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, profile=("Yes", "No", "No"))
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, DONE)
    [advice] = advice_messages(bot, pat)
    assert "lowers your defences against infection" in advice


async def test_chest_pain_that_is_not_the_ms_band_raises_urgent_to_emergency(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat, zone="New York")
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, CHEST, DONE)
    assert "tight band you know from MS" in bot.screen(pat).text
    await bot.press(pat, "No, it's different or I'm breathless")
    first, second = advice_messages(bot, pat)
    assert first.startswith("<b>⚠️") and second.startswith("<b>🚨 Please call 911 now")
    assert "chest pain" in second
    assert bot.api.texts_sent(pat.chat_id)[-1] == second  # the emergency is the last word
    assert [e.tier for e in await escalations(bot)] == ["urgent", "emergency"]


async def test_the_familiar_ms_band_is_not_an_emergency(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    await bot.press(pat, CHEST, DONE, "Yes, my usual MS band")
    assert "your check-in is saved" in bot.screen(pat).text
    assert await escalations(bot) == []


async def test_stroke_signs_are_an_emergency(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, zone=None)  # no time zone: no country, no number known
    await up_to_warnings(bot, pat)
    await bot.press(pat, STROKE, DONE)
    [advice] = advice_messages(bot, pat)
    assert "call your local emergency number now" in advice and "stroke" in advice


async def test_a_fall_depends_on_bone_risk(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat, profile=("No", "Yes", "No"))  # thin bones
    await up_to_warnings(bot, pat, pain="2")
    await bot.press(pat, FALL, DONE)
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>⚠️") and "fall" in advice
    await onboard(bot, sam)  # no bone risk: a fall with mild pain is "soon"
    await up_to_warnings(bot, sam, pain="2")
    await bot.press(sam, FALL, DONE)
    [soon] = advice_messages(bot, sam)
    assert soon.startswith("<b>ℹ️ Please contact your MS nurse or MS team in the next day or two")
    # Soon advice comes first, then the summary (with a tip: soon is not urgent).
    texts = bot.api.texts_sent(sam.chat_id)
    assert texts.index(soon) < len(texts) - 1 and "💡" in texts[-1]


async def test_a_one_sided_change_is_same_day_advice_not_the_emergency_department(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    await bot.press(pat, ONE_SIDE, DONE)
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>⚠️ Please get medical advice today.")
    assert "emergency department" not in advice


async def test_a_first_check_in_at_ten_gets_same_day_advice(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat, pain="10")
    await bot.press(pat, "None of these")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>⚠️") and "10/10" in advice
    texts = bot.api.texts_sent(pat.chat_id)
    assert texts[-2] == advice and "your check-in is saved" in texts[-1]
    assert "💡" not in texts[-1]


async def test_worsening_needs_three_earlier_check_ins(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    for pain in ("2", "2"):
        await up_to_warnings(bot, pat, pain=pain)
        await bot.press(pat, "None of these")
        bot.clock.advance(days=1)
    await up_to_warnings(bot, pat, pain="7")
    await bot.press(pat, "None of these")
    assert await escalations(bot) == []  # two check-ins are not a baseline
    bot.clock.advance(days=1)
    await up_to_warnings(bot, pat, pain="7")
    await bot.press(pat, "None of these")
    [escalation] = await escalations(bot)
    assert (escalation.tier, escalation.rule_ids) == ("soon", "soon.worsening")
    assert "higher than the usual level" in advice_messages(bot, pat)[-1]


async def test_a_relapse_asked_directly_gets_soon_advice(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", DONE, "Aching or stiff", DONE)
    await bot.press(pat, "Numbness or tingling", DONE, "None of these")
    assert "lasted more than 24 hours" in bot.screen(pat).text
    await bot.press(pat, "Yes")
    [advice] = advice_messages(bot, pat)
    assert "next day or two" in advice and "relapse" in advice and "talk to your GP" in advice
    assert [e.rule_ids for e in await escalations(bot)] == ["soon.relapse"]


async def test_back_restores_ticks_and_cancel_closes_without_completing(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Lower back", "One side: left", DONE)
    assert "What does it feel like" in bot.screen(pat).text
    await bot.press(pat, "« Back")
    screen = bot.screen(pat)
    assert "Where is the pain" in screen.text
    assert "✅ Lower back" in screen.labels() and "✅ One side: left" in screen.labels()
    await bot.press(pat, "« Back")
    assert "How much does your back hurt" in bot.screen(pat).text
    assert "« Back" not in bot.screen(pat).labels()
    await bot.press(pat, "Cancel")
    assert bot.screen(pat).text.startswith("Check-in stopped. It won't be counted.")
    [checkin] = await checkins(bot)
    assert checkin.status == "cancelled" and checkin.finished_at is None
    assert await answers(bot, checkin.id) == set()


async def test_done_with_nothing_ticked_asks_for_a_choice(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", DONE)
    toast = bot.api.calls_of("answerCallbackQuery")[-1].params
    assert "at least one" in toast.get("text", "")
    assert "Where is the pain" in bot.screen(pat).text


async def test_profile_answers_are_kept_and_changed_in_settings(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat, profile=("Not sure", "No", "Yes"))
    person = await bot.services.users.get(pat.user_id)
    assert person is not None and person.profile_answered
    assert (person.profile.immunosuppressed, person.profile.bone_risk) == (None, False)
    assert person.profile.cancer_history is True
    await bot.send(pat, "/settings")
    await bot.press(pat, "🩺 About you")
    await bot.press(pat, "No", "Yes", "No")
    person = await bot.services.users.get(pat.user_id)
    assert person is not None
    assert (person.profile.immunosuppressed, person.profile.bone_risk) == (False, True)
    assert person.profile.cancer_history is False


async def test_the_next_check_in_offers_other_tips_than_the_last_one(
    bot: Harness, pat: Person
) -> None:
    """Tips are not repeated from one check-in to the next while others fit: when the last
    check-in was weeks ago (beyond the window the amber rules look at), and the next day."""
    await onboard(bot, pat)

    async def tips_of_a_check_in() -> set[str]:
        await up_to_warnings(bot, pat)
        await bot.press(pat, "None of these")
        assert "your check-in is saved" in bot.screen(pat).text
        async with bot.services.sessions() as session:
            newest = await session.scalar(select(func.max(CheckIn.id)))
            rows = await session.scalars(
                select(SnippetDelivery.snippet_id).where(SnippetDelivery.checkin_id == newest)
            )
            return set(rows.all())

    first = await tips_of_a_check_in()
    bot.clock.advance(days=40)  # the last check-in is older than the history window
    second = await tips_of_a_check_in()
    bot.clock.advance(days=1)  # the last check-in is in it
    third = await tips_of_a_check_in()
    assert first and second and third
    assert not first & second
    assert not second & third
