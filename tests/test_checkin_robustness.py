"""Restarts, abandoned check-ins, resuming, and buttons that should not work."""

from __future__ import annotations

from sqlalchemy import select

from bot.config import Settings
from db.models import CheckIn, CheckInAnswer, User
from handlers.app import build_application
from tests.botapi import BotApiStandIn
from tests.harness import Harness, ManualClock, Person, find_button
from tests.test_checkin_flow import advice_messages, checkins, onboard


async def state_of(bot: Harness) -> list[tuple[int, str, str, int]]:
    return [(c.id, c.status, c.step, c.version) for c in await checkins(bot)]


async def test_restart_in_the_middle_resumes_from_the_database(
    settings: Settings, api: BotApiStandIn, clock: ManualClock, pat: Person
) -> None:
    first = build_application(settings, clock=clock)
    async with first:
        one = Harness(api, first, clock)
        await onboard(one, pat)
        await one.send(pat, "/checkin")
        await one.press(pat, "6", "Lower back", "Done ▶")
    await one.services.db_engine.dispose()

    # A new process: nothing in memory, the old message's buttons still work.
    second = build_application(settings, clock=clock)
    async with second:
        two = Harness(api, second, clock)
        assert "What does it feel like" in two.screen(pat).text
        await two.press(pat, "Burning", "Done ▶", "None of these")
        assert "NEW since your last check-in" in two.screen(pat).text
        await two.press(pat, "None of these")
        assert "your check-in is saved" in two.screen(pat).text
        [checkin] = await checkins(two)
        assert checkin.status == "complete" and checkin.pain_score == 6
    await two.services.db_engine.dispose()


async def test_abandoned_checkin_is_closed_and_not_counted(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4")
    old = bot.screen(pat)
    bot.clock.advance(hours=7)  # past the 6-hour limit
    await bot.tap(pat, find_button(old, "Lower back"), old)
    assert "closed it" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert checkin.status == "abandoned" and checkin.finished_at is None
    # A new check-in starts fresh rather than offering the old one.
    await bot.send(pat, "/checkin")
    assert "How much does your back hurt" in bot.screen(pat).text
    assert [c.status for c in await checkins(bot)] == ["abandoned", "open"]


async def test_housekeeping_closes_idle_checkins(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    await bot.send(pat, "/checkin")
    bot.clock.advance(hours=5)
    await bot.send(sam, "/checkin")
    bot.clock.advance(hours=2)
    closed = await bot.services.checkins.close_stale()
    assert closed == 1
    assert [c.status for c in await checkins(bot)] == ["abandoned", "open"]


async def test_checkin_command_offers_to_carry_on(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Lower back")
    await bot.send(pat, "/checkin")
    assert "not finished yet" in bot.screen(pat).text
    await bot.press(pat, "Carry on")
    screen = bot.screen(pat)
    assert "Where is the pain" in screen.text and "✅ Lower back" in screen.labels()
    await bot.press(pat, "Done ▶", "Burning", "Done ▶", "None of these", "None of these")
    assert "your check-in is saved" in bot.screen(pat).text
    assert len(await checkins(bot)) == 1


async def test_start_again_replaces_the_open_checkin(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5")
    await bot.send(pat, "/checkin")
    await bot.press(pat, "Start again")
    assert "How much does your back hurt" in bot.screen(pat).text
    assert [c.status for c in await checkins(bot)] == ["cancelled", "open"]


async def test_another_users_checkin_cannot_be_answered(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    await bot.send(pat, "/checkin")
    before = await state_of(bot)
    pats_question = bot.screen(pat)
    # Sam forges a tap on Pat's check-in.
    await bot.tap(sam, find_button(pats_question, "7"), pats_question)
    toast = bot.api.calls_of("answerCallbackQuery")[-1].params
    assert "older message" in toast["text"]
    assert await state_of(bot) == before


async def test_finished_checkin_buttons_change_nothing(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    question = bot.screen(pat)
    pain_button = find_button(question, "3")
    await bot.press(pat, "0", "None of these", "None of these")
    assert "your check-in is saved" in bot.screen(pat).text
    before = await state_of(bot)
    await bot.tap(pat, pain_button, question)
    assert "older message" in bot.api.calls_of("answerCallbackQuery")[-1].params["text"]
    assert await state_of(bot) == before


async def test_an_old_steps_button_changes_nothing(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    question = bot.screen(pat)
    data = find_button(question, "3")
    await bot.press(pat, "5")
    before = await state_of(bot)
    await bot.tap(pat, data, question)  # the pain question was already answered
    assert await state_of(bot) == before


async def test_malformed_and_unknown_callback_data_get_a_polite_answer(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    question = bot.screen(pat)
    checkin_id = (await checkins(bot))[0].id
    before = await state_of(bot)
    for data in (
        "garbage",
        "c:abc:pain:3",
        f"c:{checkin_id}:pain:11",
        f"c:{checkin_id}:pain:drop table",
        f"c:{checkin_id}:nonsense:1",
        "tz:Mars/Olympus",
        "c:" + "9" * 60,
    ):
        await bot.tap(pat, data, question)
        toast = bot.api.calls_of("answerCallbackQuery")[-1].params
        assert toast.get("text"), data
    assert await state_of(bot) == before


async def test_text_where_a_button_is_expected_is_kept_and_answers_nothing(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5")
    question = bot.screen(pat)
    [(checkin_id, status, step, _)] = await state_of(bot)
    await bot.send(pat, "it hurts a lot")
    assert bot.screen(pat).text == (
        "I've added that to this check-in. Please tap a button on the question above to carry on."
    )
    # No answer was taken from it and the check-in waits on the same question...
    assert [(c, s, st) for c, s, st, _ in await state_of(bot)] == [(checkin_id, status, step)]
    assert (status, step) == ("open", "where")
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(CheckInAnswer))).all() == []
        checkin = await session.scalar(select(CheckIn))
    # ...but what was typed is kept with the check-in, as its note.
    assert checkin is not None and checkin.note == "it hurts a lot"
    assert advice_messages(bot, pat) == []
    # The question's buttons still work.
    await bot.press(pat, "Lower back", "Done ▶")
    feel = bot.message_with(pat, "Burning")
    assert feel.message_id == question.message_id and "What does it feel like" in feel.text


async def test_a_note_that_is_too_long_is_refused_and_can_be_sent_again(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these", "📝 Add a note")
    await bot.send(pat, "x" * 600)
    assert "a bit long" in bot.screen(pat).text
    await bot.send(pat, "Shorter now")
    assert "note is saved" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert checkin.note == "Shorter now"


async def test_a_question_telegram_will_not_edit_is_sent_again(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    bot.api.fail("editMessageText", 400, "Bad Request: message can't be edited")
    await bot.press(pat, "5")
    assert "Where is the pain" in bot.screen(pat).text
    await bot.press(pat, "Lower back")  # the new message is the one that is edited now
    assert "✅ Lower back" in bot.screen(pat).labels()
    [checkin] = await checkins(bot)
    assert checkin.message_id == bot.screen(pat).message_id


async def test_starting_a_new_checkin_ends_the_note_offer(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these", "📝 Add a note")
    await bot.send(pat, "/checkin")
    await bot.send(pat, "some text")
    # The text belongs to the check-in now open, not to the note the bot had asked for.
    assert "I've added that to this check-in" in bot.screen(pat).text
    assert [c.note for c in await checkins(bot)] == [None, "some text"]
    async with bot.services.sessions() as session:
        user = await session.scalar(select(User))
    assert user is not None and user.awaiting is None


async def test_text_shortly_after_a_check_in_is_added_to_its_note(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "0", "None of these", "None of these")
    bot.clock.advance(minutes=20)
    await bot.send(pat, "slept badly")
    assert bot.screen(pat).text == "I've added that as a note to your last check-in."
    bot.clock.advance(minutes=5)
    await bot.send(pat, "better after a walk")
    [checkin] = await checkins(bot)
    assert checkin.note == "slept badly\nbetter after a walk"
    # Much later, with no check-in open, text is not stored and the reply says so, with how to
    # start one and that nobody reads the chat.
    bot.clock.advance(hours=3)
    await bot.send(pat, "hello")
    assert "/checkin" in bot.screen(pat).text and "No doctor or nurse reads" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert checkin.note == "slept badly\nbetter after a walk"
