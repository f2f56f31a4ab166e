"""/export gives people their data; /delete takes all of it away, at once and completely."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from db.models import Base, CaregiverAlert, CaregiverLink, Escalation, User
from tests.harness import Harness, Person
from tests.test_caregivers import link
from tests.test_checkin_flow import BLADDER, CHEST, DONE, FEVER, onboard, up_to_warnings


async def test_export_has_every_checkin_with_answers_note_and_escalations(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4", "Lower back", "Spreads to buttocks, legs or feet", DONE)
    await bot.press(pat, "Burning", DONE, "Tiredness (fatigue)", DONE, "None of these")
    await bot.press(pat, "📝 Add a note")
    await bot.send(pat, "Long day, sore, but fine")
    bot.clock.advance(days=1)
    # Urgent advice, then the chest question is left unanswered; the next check-in closes it.
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, CHEST, DONE)
    bot.clock.advance(days=1)
    await up_to_warnings(bot, pat, pain="6")
    await bot.press(pat, BLADDER, DONE)  # emergency advice closes the check-in
    await bot.send(pat, "/export")
    export = bot.screen(pat)
    assert export.document is not None and "Your check-ins (3)" in export.text
    rows = list(csv.DictReader(io.StringIO(export.document.decode())))
    assert [r["status"] for r in rows] == ["complete", "abandoned", "complete"]
    first, second, third = rows
    assert first["pain"] == "4" and first["where"] == "legs lower"
    assert first["feel"] == "burning" and first["symptoms"] == "fatigue"
    assert first["warning"] == "" and first["escalations"] == ""
    assert first["note"] == "Long day, sore, but fine"
    assert first["started"].startswith("2026-03-02T10:00")  # Berlin time
    assert second["warning"] == "chest fever" and second["chest"] == ""
    assert second["escalations"] == "urgent: urgent.fever"
    assert second["finished"] == ""
    assert third["pain"] == "6" and third["warning"] == "bladder_bowel"
    assert third["escalations"] == "emergency: emergency.cauda_equina"
    assert third["finished"].startswith("2026-03-04T10:00")


async def test_export_before_consent_has_nothing(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/export")
    assert "don't keep any data" in bot.screen(pat).text


async def test_delete_asks_first_and_keep_changes_nothing(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/delete")
    assert "cannot be undone" in bot.screen(pat).text
    await bot.press(pat, "Keep my data")
    assert "nothing was deleted" in bot.screen(pat).text
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_delete_removes_everything_and_only_that_person(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    await bot.press(pat, "09:00")
    await link(bot, pat, sam)
    await link(bot, sam, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "8", "Lower back", DONE, "Burning", DONE, "None of these")
    await bot.press(pat, FEVER, DONE)  # urgent advice, and an alert to Sam
    await bot.send(pat, "a note in my own words")
    await bot.send(sam, "/patients")
    await bot.press(sam, "Pat")
    await bot.send(sam, "/checkin")
    await bot.press(sam, "3", "Lower back", DONE, "Burning", DONE, "None of these")
    await bot.press(sam, "None of these")
    async with bot.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CaregiverAlert)) == 1
        assert await session.scalar(select(func.count()).select_from(Escalation)) == 1

    async with bot.services.sessions() as session:
        pat_id = await session.scalar(select(User.id).where(User.telegram_id == pat.user_id))
    await bot.send(pat, "/delete")
    await bot.press(pat, "Delete everything")
    assert "Everything I kept about you is deleted" in bot.screen(pat).text

    async with bot.services.sessions() as session:
        sam_row = await session.scalar(select(User).where(User.telegram_id == sam.user_id))
        assert await session.scalar(select(User).where(User.telegram_id == pat.user_id)) is None
        counts = {}
        for table in Base.metadata.sorted_tables:
            columns = [c for c in ("user_id", "patient_id", "caregiver_id") if c in table.c]
            for column in columns:
                counts[(table.name, column)] = await session.scalar(
                    select(func.count()).select_from(table).where(table.c[column] == pat_id)
                )
        assert sam_row is not None
        checkins = Base.metadata.tables["checkins"]
        sams_checkins = await session.scalar(
            select(func.count()).select_from(checkins).where(checkins.c.user_id == sam_row.id)
        )
        links = (await session.scalars(select(CaregiverLink))).all()
        alerts = (await session.scalars(select(CaregiverAlert))).all()
    assert all(n == 0 for n in counts.values()), counts
    assert alerts == []  # the alert about Pat went with Pat's escalation
    assert sams_checkins == 1  # Sam's own data is untouched
    assert links == []
    # Sam, who followed Pat, sees nothing of Pat any more.
    await bot.send(sam, "/patients")
    assert "don't follow anyone" in bot.screen(sam).text
