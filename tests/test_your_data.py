"""/delete takes all of a person's data away, at once and completely (/export: test_exports.py)."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import Base, CaregiverAlert, CaregiverLink, Escalation, User
from tests.harness import Harness, Person
from tests.test_caregivers import link
from tests.test_checkin_flow import DONE, FEVER, onboard


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
