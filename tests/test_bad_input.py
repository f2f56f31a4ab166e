"""Bad input gets a clear reply and loses nothing, on SQLite and PostgreSQL alike: control
characters, numbers out of range, updates with no person behind them, oversize text."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Settings
from db.models import CheckIn, User
from tests.botapi import BotApiStandIn
from tests.harness import Harness, ManualClock, Person, button_update
from tests.test_checkin_flow import checkins, onboard, up_to_warnings


async def test_a_nul_byte_in_a_note_is_dropped_and_the_note_kept(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await up_to_warnings(bot, pat)
    await bot.press(pat, "None of these", "📝 Add a note")
    await bot.send(pat, "walked\x00 to the shop\x07, felt ok")
    assert "note is saved" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert checkin.note == "walked to the shop, felt ok"


async def test_a_nul_byte_in_a_first_name_is_dropped(bot: Harness) -> None:
    odd = Person(7007, "Jo\x00e\x1b")
    await onboard(bot, odd)
    async with bot.services.sessions() as session:
        [user] = (await session.scalars(select(User))).all()
    assert user.display_name == "Joe"


async def test_numbers_too_large_for_the_database_get_a_polite_answer(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    message = bot.api.message_json(bot.screen(pat))
    errors_before = len(bot.api.texts_sent(pat.chat_id))
    for data in ("c:99999999999:pain:5", "h:4294967296:7", "m:123456789012:go", "g:rm:9999999999"):
        await bot.process(button_update(pat, data, message))
    toasts = [c.params.get("text", "") for c in bot.api.calls_of("answerCallbackQuery")[-4:]]
    assert all("could not read that button" in t for t in toasts)
    # No "something went wrong": nothing failed.
    assert len(bot.api.texts_sent(pat.chat_id)) == errors_before
    [checkin] = await checkins(bot)
    assert checkin.status == "open" and checkin.pain_score is None


async def test_updates_without_a_person_or_chat_are_ignored(bot: Harness, pat: Person) -> None:
    channel = {"id": -100123, "type": "channel", "title": "news"}
    await bot.process(
        {
            "update_id": 990001,
            "channel_post": {"message_id": 1, "date": 0, "chat": channel, "text": "I can't pee"},
        }
    )
    await bot.process(
        {
            "update_id": 990002,
            "edited_channel_post": {
                "message_id": 1, "date": 0, "edit_date": 1, "chat": channel, "text": "fell over"
            },
        }
    )  # fmt: skip
    assert bot.api.calls_of("sendMessage") == []


async def test_the_longest_message_telegram_allows_is_kept_in_a_check_in(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4")
    long_text = ("my back is sore and stiff today " * 200)[:4096]
    await bot.send(pat, long_text)
    assert "added that to this check-in" in bot.api.texts_sent(pat.chat_id)[-1]
    async with bot.services.sessions() as session:
        [checkin] = (await session.scalars(select(CheckIn))).all()
    assert checkin.note and checkin.note.startswith("my back is sore")


async def test_two_checkin_commands_at_once_open_one_check_in(bot: Harness, pat: Person) -> None:
    import asyncio

    from tests.harness import text_update

    await onboard(bot, pat)
    await asyncio.gather(
        bot.process(text_update(pat, "/checkin")), bot.process(text_update(pat, "/checkin"))
    )
    [checkin] = await checkins(bot)
    assert checkin.status == "open"
    texts = bot.api.texts_sent(pat.chat_id)[-2:]
    assert any("How much does your back hurt" in t for t in texts)
    assert all("went wrong" not in t for t in texts)


async def test_the_database_refuses_a_second_open_check_in(bot: Harness, pat: Person) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    [first] = await checkins(bot)
    with pytest.raises(IntegrityError):
        async with bot.services.sessions.begin() as session:
            session.add(
                CheckIn(
                    user_id=first.user_id, started_at=first.started_at,
                    updated_at=first.updated_at, status="open", step="pain", state={}, version=0,
                )
            )  # fmt: skip


async def test_a_tick_delivered_twice_stays_ticked(bot: Harness, pat: Person) -> None:
    from tests.harness import find_button

    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5")
    question = bot.screen(pat)
    tick = find_button(question, "Lower back")
    for _ in range(2):  # a slow webhook answer makes Telegram deliver the same tap again
        await bot.tap(pat, tick, question)
    assert "✅ Lower back" in bot.screen(pat).labels()
    [checkin] = await checkins(bot)
    assert checkin.state["draft"] == ["lower"]
    # Unticking is its own button, and a repeat of it is harmless too.
    untick = find_button(bot.screen(pat), "Lower back")
    for _ in range(2):
        await bot.tap(pat, untick, bot.screen(pat))
    assert "Lower back" in bot.screen(pat).labels()
    [checkin] = await checkins(bot)
    assert checkin.state["draft"] == []


async def test_a_sharing_choice_tapped_twice_on_the_same_keyboard_is_set_once(
    bot: Harness, pat: Person
) -> None:
    from bot.caregivers import MISSED_DAY_CHOICES
    from tests.harness import find_button

    await onboard(bot, pat)
    await bot.send(pat, "/caregivers")
    screen = bot.screen(pat)
    off = find_button(screen, "🚨 Urgent alerts: on")
    stale = bot.api.message_json(screen)
    for _ in range(2):
        await bot.process(button_update(pat, off, stale))
    assert "🚨 Urgent alerts: off" in bot.screen(pat).labels()
    overview = await bot.services.caregivers.overview(pat.user_id)
    assert overview is not None and overview.sharing.red_alerts is False
    assert overview.sharing.missed_days in MISSED_DAY_CHOICES


async def test_after_a_failed_edit_the_current_question_is_shown_again(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    bot.api.fail("editMessageText", 502, "Bad Gateway")
    await bot.press(pat, "5")
    # The answer was stored, and the patient sees the question the database is on now.
    assert "Where is the pain" in bot.screen(pat).text
    [checkin] = await checkins(bot)
    assert (checkin.step, checkin.pain_score) == ("where", 5)


async def test_an_old_delete_button_does_nothing_after_joining_again(
    bot: Harness, pat: Person
) -> None:
    from tests.harness import find_button

    await onboard(bot, pat)
    await bot.send(pat, "/delete")
    old_question = bot.screen(pat)
    old_delete = find_button(old_question, "Delete everything")
    await bot.press(pat, "Delete everything")
    await onboard(bot, pat)  # joins again, new data
    await bot.send(pat, "/checkin")
    await bot.tap(pat, old_delete, old_question)
    assert any("from an older message" in m.text for m in bot.api.chat(pat.chat_id))
    async with bot.services.sessions() as session:
        users = (await session.scalars(select(User))).all()
    assert len(users) == 1 and users[0].consent_at is not None
    assert len(await checkins(bot)) == 1


async def test_an_old_consent_button_does_not_register_after_delete(
    bot: Harness, pat: Person
) -> None:
    from tests.harness import find_button

    await bot.send(pat, "/start")
    consent_question = bot.screen(pat)
    yes = find_button(consent_question, "Yes, that's OK")
    await bot.tap(pat, yes, consent_question)
    await bot.send(pat, "/delete")
    await bot.press(pat, "Delete everything")
    await bot.tap(pat, yes, consent_question)  # the old "Yes" again
    async with bot.services.sessions() as session:
        users = (await session.scalars(select(User))).all()
    assert users == []
    assert any("Tap /start to begin" in m.text for m in bot.api.chat(pat.chat_id))


async def test_ids_in_buttons_are_never_reused(bot: Harness, pat: Person, sam: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    [first] = await checkins(bot)
    await bot.send(pat, "/delete")
    await bot.press(pat, "Delete everything")
    await onboard(bot, sam)
    await bot.send(sam, "/checkin")
    [second] = await checkins(bot)
    assert second.id > first.id  # an old button of Pat's can never reach Sam's check-in


async def test_the_same_update_delivered_twice_is_processed_once(bot: Harness, pat: Person) -> None:
    from tests.harness import text_update

    await onboard(bot, pat)
    update = text_update(pat, "/checkin")
    await bot.process(update)
    await bot.process(update)  # Telegram delivers it again
    assert len(await checkins(bot)) == 1
    questions = [t for t in bot.api.texts_sent(pat.chat_id) if "How much does your back" in t]
    assert len(questions) == 1
    assert not any("not finished yet" in t for t in bot.api.texts_sent(pat.chat_id))


async def test_an_update_whose_work_rolled_back_is_processed_when_delivered_again(
    bot: Harness, pat: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The processed-update record is part of the update's own transaction: when that
    transaction fails, the record goes with it, and a redelivery does the work."""
    from bot.checkin_service import CheckinService
    from tests.harness import text_update

    await onboard(bot, pat)
    real_create = CheckinService._create
    calls = 0

    async def failing_once(self: CheckinService, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the database went away mid-transaction")
        return await real_create(self, *args, **kwargs)

    monkeypatch.setattr(CheckinService, "_create", failing_once)
    update = text_update(pat, "/checkin")
    await bot.process(update)  # fails inside its transaction: nothing kept, not even the record
    assert await checkins(bot) == []
    await bot.process(update)  # Telegram delivers it again: now it is done
    assert len(await checkins(bot)) == 1
    assert "How much does your back" in bot.screen(pat).text


async def test_an_update_whose_work_was_committed_is_not_done_again(
    bot: Harness, pat: Person
) -> None:
    """The check-in was opened and then its question could not be sent: a repeat of that update
    changes nothing, and asking again offers the check-in already open."""
    from tests.harness import text_update

    await onboard(bot, pat)
    update = text_update(pat, "/checkin")
    bot.api.fail("sendMessage", 400, "Bad Request: something odd")
    await bot.process(update)
    await bot.process(update)
    assert len(await checkins(bot)) == 1
    await bot.send(pat, "/checkin")
    assert "not finished yet" in bot.screen(pat).text


async def test_old_update_ids_are_pruned(bot: Harness, pat: Person) -> None:
    from db.models import ProcessedUpdate

    await onboard(bot, pat)
    bot.clock.advance(hours=49)
    pruned = await bot.services.updates.prune()
    assert pruned > 0
    async with bot.services.sessions() as session:
        assert (await session.scalars(select(ProcessedUpdate))).all() == []


async def test_one_persons_flood_is_dropped_early_and_others_are_served(
    settings: Settings, api: BotApiStandIn, clock: ManualClock, pat: Person, sam: Person
) -> None:
    from db.models import ProcessedUpdate
    from handlers.app import build_application
    from tests.harness import text_update

    limited = settings.model_copy(update={"flood_max_updates": 30, "flood_window_seconds": 60})
    app = build_application(limited, clock=clock)
    async with app:
        bot = Harness(api, app, clock)
        await bot.process(text_update(sam, "/help"))
        for i in range(500):
            await bot.process(text_update(pat, f"spam {i}"))
        await bot.process(text_update(sam, "/help"))
        async with bot.services.sessions() as session:
            processed = (await session.scalars(select(ProcessedUpdate))).all()
    await app.bot_data["services"].db_engine.dispose()
    # Pat's first 30 were handled; the other 470 cost no database work, and Pat was told once.
    assert len(processed) == 30 + 2
    told = [t for t in api.texts_sent(pat.chat_id) if "a lot of messages at once" in t]
    assert len(told) == 1 and "emergency number" in told[0]
    assert sum("/privacy" in t for t in api.texts_sent(sam.chat_id)) == 2  # Sam got both


async def test_a_flood_over_long_polling_is_dropped_before_it_is_parsed(
    settings: Settings,
    api: BotApiStandIn,
    clock: ManualClock,
    pat: Person,
    sam: Person,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pat's script sends 1,000 messages; Sam's two messages sit among them in Telegram's queue.
    The bot fetches them 100 at a time, parses only what is under twice the flood limit (and the
    last of each array, which confirms it), answers Sam both times and confirms every update."""
    from db.models import ProcessedUpdate
    from handlers.app import build_application
    from tests.harness import text_update

    limited = settings.model_copy(update={"flood_max_updates": 30, "flood_window_seconds": 60})
    app = build_application(limited, clock=clock)
    parsed: list[int] = []
    real_check = None
    async with app:
        services = app.bot_data["services"]
        real_check = services.flood.check

        def counted(person: int) -> Any:
            parsed.append(person)
            return real_check(person)

        services.flood.check = counted
        for i in range(1_000):
            api.push_update(text_update(pat, f"spam {i}"))
            if i in (10, 500):
                api.push_update(text_update(sam, "/help"))
        assert app.updater is not None
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await api.wait_for(
                lambda: (
                    sum("/privacy" in t for t in api.texts_sent(sam.chat_id)) == 2
                    and api.waiting_updates() == 0
                )
            )
        finally:
            await app.updater.stop()
            await app.stop()
        async with services.sessions() as session:
            processed = (await session.scalars(select(ProcessedUpdate))).all()
    await services.db_engine.dispose()
    # Pat's first 60 (twice the limit) passed the door; the other 940 were dropped unparsed.
    assert services.intake.dropped == 1_000 - 2 * 30
    # Of the 60 parsed, those beyond Pat's per-person queue were dropped before the handlers;
    # the first ones were handled like anyone's, within the flood limit.
    processor = app.update_processor
    handled = parsed.count(pat.chat_id)
    assert processor.max_waiting <= handled <= 30  # type: ignore[attr-defined]
    assert handled + processor.dropped == 2 * 30  # type: ignore[attr-defined]
    assert len(processed) == handled + 2
    assert parsed.count(sam.chat_id) == 2
    # The bare ids kept to confirm each array were dropped quietly, with no error.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_door_drops_only_what_is_beyond_twice_the_limit() -> None:
    """Intake.admit on raw arrays: a burst up to twice the limit is kept whole, others in the
    same array are untouched, a dropped last update stays as its bare id, the window moves on,
    and a limit of 0 turns the door off."""
    from bot.intake import Intake

    def raw(update_id: int, person: int | None) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": update_id, "date": 0, "text": "x",
                                   "chat": {"id": person or -5, "type": "private"}}  # fmt: skip
        if person is None:
            del message["chat"]
        else:
            message["from"] = {"id": person, "is_bot": False, "first_name": "P"}
        return {"update_id": update_id, "message": message}

    now = [0.0]
    door = Intake(3, 10.0, lambda: now[0])  # up to 6 per 10 s per person
    burst = [raw(i, 1) for i in range(6)] + [raw(6, 2)]
    assert door.admit(burst) == burst and door.dropped == 0
    array = [raw(7, 1), raw(8, 2), raw(9, None), raw(10, 1)]
    kept = door.admit(array)
    assert kept == [raw(8, 2), raw(9, None), {"update_id": 10}]  # the tail confirms the array
    assert door.dropped == 2
    assert door.admit([raw(11, 1), raw(12, 2)]) == [raw(12, 2)]  # a kept tail needs no stub
    now[0] = 10.5  # the window moved on
    assert door.admit([raw(13, 1)]) == [raw(13, 1)]
    off = Intake(0, 10.0, lambda: 0.0)
    flood = [raw(i, 1) for i in range(500)]
    assert off.admit(flood) == flood and off.dropped == 0


def test_invalid_json_from_the_bot_api_is_reported_without_its_payload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from telegram.error import TelegramError

    from bot.transport import AiohttpRequest

    request = AiohttpRequest()
    request.updates_filter = lambda updates: updates[:1]
    with pytest.raises(TelegramError, match="Invalid server response"):
        request.parse_json_payload(b'{"ok": true, "result": [{"text": "my back hurts"')
    assert "my back hurts" not in caplog.text and "invalid JSON" in caplog.text
    # Only an array of updates passes through the filter; other results are left alone.
    two = b'{"ok": true, "result": [{"update_id": 1}, {"update_id": 2}]}'
    assert request.parse_json_payload(two)["result"] == [{"update_id": 1}]
    other = b'{"ok": true, "result": [{"id": 1}, {"id": 2}]}'
    assert len(request.parse_json_payload(other)["result"]) == 2


def test_the_door_finds_the_same_person_as_the_ordering_does() -> None:
    """sender_of reads the raw JSON; person_of the parsed Update: they must agree on every kind
    of update, or a flood could slip through (or a person be dropped for someone else's)."""
    from telegram import Bot, Update

    from bot.intake import sender_of
    from handlers.ordering import person_of

    user = {"id": 11, "is_bot": False, "first_name": "Pat"}
    chat = {"id": 22, "type": "private"}
    channel = {"id": -1003, "type": "channel", "title": "News"}
    message = {"message_id": 1, "date": 0, "chat": chat, "from": user, "text": "hi"}
    raws: list[dict[str, Any]] = [
        {"update_id": 1, "message": message},
        {"update_id": 2, "edited_message": {**message, "edit_date": 1}},
        {"update_id": 3, "callback_query": {"id": "q", "from": user, "chat_instance": "c",
                                            "message": message, "data": "x"}},
        {"update_id": 4, "my_chat_member": {
            "chat": chat, "from": user, "date": 0,
            "old_chat_member": {"status": "member", "user": user},
            "new_chat_member": {"status": "kicked", "user": user, "until_date": 0}}},
        {"update_id": 5, "channel_post": {"message_id": 2, "date": 0, "chat": channel,
                                          "text": "news"}},
        {"update_id": 6, "poll_answer": {"poll_id": "p", "user": user, "option_ids": [0],
                                         "option_persistent_ids": ["a"]}},
        {"update_id": 8, "message": {"message_id": 3, "date": 0, "chat": chat, "text": "no from"}},
    ]  # fmt: skip
    bot = Bot("123:abc")
    for raw in raws:
        assert sender_of(raw) == person_of(Update.de_json(raw, bot)), raw
    assert sender_of({"update_id": 9}) is None
    assert sender_of({"update_id": 10, "message": {"from": {"id": True}}}) is None


def test_the_flood_guard_forgets_quietly_and_stays_bounded() -> None:
    from bot.flood import FloodGuard, Verdict

    now = [0.0]
    guard = FloodGuard(2, 10.0, lambda: now[0], max_people=100)
    assert [guard.check(1) for _ in range(4)] == [
        Verdict.ALLOW, Verdict.ALLOW, Verdict.DROP_AND_TELL, Verdict.DROP,
    ]  # fmt: skip
    now[0] = 10.5
    assert guard.check(1) is Verdict.ALLOW  # the window moved on
    for person in range(10_000):
        guard.check(person)
    assert len(guard) == 100  # memory stays flat however many people flood
