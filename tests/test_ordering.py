"""Many people at once, each person in order: the update processor the Application runs with."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from telegram import Update

from db.models import CheckIn
from handlers.ordering import PerPersonProcessor
from tests.harness import Harness, Person, button_update, find_button, text_update
from tests.test_checkin_flow import DONE, onboard


def _update(bot: Harness, data: dict[str, object]) -> Update:
    return Update.de_json(data, bot.app.bot)


async def test_one_person_waits_for_their_own_update_but_not_for_anyone_else(
    bot: Harness, pat: Person, sam: Person
) -> None:
    processor = PerPersonProcessor(8)
    pat_first_running = asyncio.Event()
    release_pat = asyncio.Event()
    order: list[str] = []

    async def slow_pat() -> None:
        order.append("pat 1 start")
        pat_first_running.set()
        await release_pat.wait()
        order.append("pat 1 end")

    async def quick(name: str) -> None:
        order.append(name)

    first = asyncio.create_task(
        processor.process_update(_update(bot, text_update(pat, "a")), slow_pat())
    )
    await pat_first_running.wait()
    second = asyncio.create_task(
        processor.process_update(_update(bot, text_update(pat, "b")), quick("pat 2"))
    )
    await processor.process_update(_update(bot, text_update(sam, "c")), quick("sam"))
    assert order == ["pat 1 start", "sam"]  # Sam did not wait behind Pat
    release_pat.set()
    await asyncio.gather(first, second)
    assert order == ["pat 1 start", "sam", "pat 1 end", "pat 2"]  # Pat's stayed in order
    assert processor.people_in_progress == 0  # nothing kept once done


async def test_the_running_application_keeps_each_persons_taps_in_order(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    for person in (pat, sam):
        await bot.send(person, "/checkin")
        await bot.press(person, "5")
    queued = []
    for person in (pat, sam):
        question = bot.screen(person)
        message = bot.api.message_json(question)
        for label in ("Lower back", "Middle back (like a band)", "Lower back"):
            queued.append(button_update(person, find_button(question, label), message))
    await bot.app.start()
    try:
        for update in queued:  # all at once, interleaved as they would arrive
            await bot.app.update_queue.put(_update(bot, update))
        await bot.api.wait_for(lambda: bot.app.update_queue.empty(), timeout=20)
        await asyncio.sleep(0.5)
    finally:
        await bot.app.stop()
    async with bot.services.sessions() as session:
        drafts = [c.state["draft"] for c in (await session.scalars(select(CheckIn))).all()]
    # Tick lower, tick middle, then the "Lower back" button of the first screen again, which
    # carries "tick": so both stay ticked, in the order tapped, for each person.
    assert drafts == [["lower", "middle"], ["lower", "middle"]]


async def test_many_people_checking_in_at_once_are_all_saved(bot: Harness) -> None:
    """Sixty people onboard and check in at the same moment, each tap at once behind the one
    before, while every Bot API answer takes a little while: all are saved, on SQLite too (one
    writer at a time, queued in order), and no one gets an apology."""
    people = [Person(7000 + i, f"C{i}") for i in range(60)]
    bot.api.slow("answerCallbackQuery", 0.01)
    bot.api.slow("editMessageText", 0.01)

    async def check_in(person: Person) -> None:
        await onboard(bot, person)
        await bot.send(person, "/checkin")
        await bot.press(person, "5", "Lower back", DONE, "Burning", DONE, "None of these")
        await bot.press(person, "None of these")

    await asyncio.gather(*(check_in(person) for person in people))
    apology = bot.services.catalog.text("error.generic", "en")
    for person in people:
        assert "your check-in is saved" in bot.screen(person).text, person
        assert apology not in bot.api.texts_sent(person.chat_id), person
    async with bot.services.sessions() as session:
        statuses = (await session.scalars(select(CheckIn.status))).all()
    assert statuses == ["complete"] * len(people)


async def test_one_persons_backlog_holds_no_slot_and_a_flood_beyond_it_is_dropped(
    bot: Harness, pat: Person, sam: Person
) -> None:
    """Two shared slots. Pat's first update hangs and 40 more of Pat's arrive: they wait for
    Pat's turn without taking a slot, so Sam's update runs at once; beyond 20 waiting, Pat's
    extra updates are dropped without running. Afterwards Pat's kept ones run, in order."""
    processor = PerPersonProcessor(2, max_waiting=20)
    release = asyncio.Event()
    ran: list[str] = []

    async def hang() -> None:
        await release.wait()
        ran.append("pat 0")

    async def note(name: str) -> None:
        ran.append(name)

    tasks = [
        asyncio.create_task(processor.process_update(_update(bot, text_update(pat, "0")), hang()))
    ]
    await asyncio.sleep(0)
    for i in range(1, 41):
        update = _update(bot, text_update(pat, str(i)))
        tasks.append(asyncio.create_task(processor.process_update(update, note(f"pat {i}"))))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(
        processor.process_update(_update(bot, text_update(sam, "hi")), note("sam")), timeout=5
    )
    assert ran == ["sam"]  # Sam did not wait behind Pat's backlog
    assert processor.dropped == 21  # 20 waiting at most (the running one among them)
    release.set()
    await asyncio.gather(*tasks)
    assert ran == ["sam", "pat 0", *(f"pat {i}" for i in range(1, 20))]
    assert processor.people_in_progress == 0
