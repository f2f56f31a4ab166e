"""/history: text per day or week, the trend, the chart, on empty, short and long histories."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from bot.chart import ChartSpec, ChartUnavailable, ChartWorker
from bot.history import TELEGRAM_LIMIT, pack
from db.models import CheckIn, CheckInAnswer, Escalation, User
from tests.harness import Harness, Person
from tests.test_checkin_flow import onboard

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


ESCALATIONS = {
    "emergency": ("emergency.cauda_equina", "bladder_bowel"),
    "urgent": ("urgent.fever", "fever"),
    "soon": ("soon.worsening", ""),
}


async def add_checkins(
    bot: Harness,
    person: Person,
    days: int,
    pain_of=lambda i: 3 + i % 4,
    escalate_every: int = 0,
    tier_of=lambda i: "emergency",
) -> None:
    """``days`` daily completed check-ins ending yesterday, written straight to the database;
    every ``escalate_every``-th led to an escalation of tier ``tier_of(i)``."""
    async with bot.services.sessions.begin() as session:
        user_id = (
            (
                await session.execute(
                    User.__table__.select().where(User.telegram_id == person.user_id)
                )
            )
            .one()
            .id
        )
        now = bot.clock.now()
        for i in range(days):
            at = now - timedelta(days=days - i)
            checkin_id = (
                await session.execute(
                    insert(CheckIn)
                    .values(user_id=user_id, started_at=at, updated_at=at, finished_at=at,
                            status="complete", step="done", pain_score=pain_of(i), state={},
                            version=1)
                    .returning(CheckIn.id)
                )
            ).scalar_one()  # fmt: skip
            await session.execute(
                insert(CheckInAnswer),
                [
                    {"checkin_id": checkin_id, "question": "where", "value": "lower"},
                    {"checkin_id": checkin_id, "question": "symptoms", "value": "fatigue"},
                ],
            )
            if escalate_every and i % escalate_every == 0:
                tier = tier_of(i)
                rule, findings = ESCALATIONS[tier]
                await session.execute(
                    insert(Escalation).values(user_id=user_id, checkin_id=checkin_id, tier=tier,
                                              rule_ids=rule, findings=findings, pain=pain_of(i),
                                              created_at=at, sent_at=at)
                )  # fmt: skip


def photos(bot: Harness, person: Person) -> list[bytes]:
    return [m.photo for m in bot.api.chat(person.chat_id) if m.photo is not None]


async def test_history_on_an_empty_account_says_so_without_a_chart(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/history")
    last = bot.screen(pat)
    assert "Your last 7 days" in last.text and "No finished check-ins" in last.text
    assert last.labels() == ["30 days", "90 days"]  # a longer period, one tap away
    assert photos(bot, pat) == []


async def test_history_after_one_checkin(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "5", "Lower back", "Done ▶", "Burning", "Done ▶")
    await bot.press(pat, "Numbness or tingling", "Done ▶", "None of these")
    assert "lasted more than 24 hours" in bot.screen(pat).text
    assert bot.screen(pat).text.startswith("You ticked: Numbness or tingling.")  # still in view
    await bot.press(pat, "No")
    assert "your check-in is saved" in bot.screen(pat).text
    await bot.send(pat, "/history")
    text = bot.api.chat(pat.chat_id)[-2].text
    assert "Mon 2 Mar: pain 5 · Lower back · Numbness or tingling" in text
    assert "Average pain 5.0 this week." in text
    assert bot.screen(pat).labels() == ["30 days", "90 days"]
    assert bot.screen(pat).text == "Your chart."  # no advice: no key to marks that are not there


async def test_trend_and_escalations_marked(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await add_checkins(bot, pat, 14, pain_of=lambda i: 6 if i < 8 else 4, escalate_every=10)
    await bot.send(pat, "/history")
    text = bot.api.chat(pat.chat_id)[-2].text
    assert "Average pain 4.0 this week, 6.0 last week." in text
    assert "🚨" in text  # day 10 had emergency advice
    assert bot.screen(pat).text.startswith("Your chart. Triangles mark days with advice")
    assert text.count("\n") >= 7


async def test_each_tier_is_marked_for_what_it_advised(bot: Harness, pat: Person) -> None:
    """Emergency and urgent advice (go now, or today) are marked 🚨; advice to contact the MS
    team in a day or two is marked ℹ️, never with the alarm."""
    await onboard(bot, pat)
    tiers = {0: "emergency", 2: "urgent", 4: "soon"}
    await add_checkins(bot, pat, 6, escalate_every=2, tier_of=tiers.__getitem__)
    await bot.send(pat, "/history")
    lines = {
        line.split(":")[0]: line
        for line in bot.api.chat(pat.chat_id)[-2].text.splitlines()
        if line[:3] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    }
    # Six check-ins ending yesterday (Sunday 1 March): Tue 24 Feb .. Sun 1 Mar.
    assert lines["Tue 24 Feb"].endswith("🚨")  # emergency
    assert lines["Thu 26 Feb"].endswith("🚨")  # urgent
    assert lines["Sat 28 Feb"].endswith("ℹ️") and "🚨" not in lines["Sat 28 Feb"]  # soon
    for day in ("Wed 25 Feb", "Fri 27 Feb", "Sun 1 Mar"):
        assert not lines[day].endswith(("🚨", "ℹ️")), lines[day]


async def test_a_year_of_daily_checkins_is_summarised_and_fits(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await add_checkins(bot, pat, 365, escalate_every=30)
    await bot.send(pat, "/history")
    await bot.press(pat, "90 days")
    sent = [m for m in bot.api.chat(pat.chat_id) if "last 90 days" in m.text]
    assert sent, "the 90-day history was sent"
    text = sent[-1].text
    assert "By week:" in text and len(text) <= TELEGRAM_LIMIT
    assert text.count("Week of") in (13, 14)
    width, height = png_size(photos(bot, pat)[-1])
    assert (width, height) == (800, 600)
    assert len(photos(bot, pat)[-1]) < 300_000


def test_long_text_is_split_between_lines_never_inside_one() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(120)]
    messages = pack(lines)
    assert len(messages) > 1
    assert all(len(m) <= TELEGRAM_LIMIT for m in messages)
    assert "\n".join(messages).split("\n") == lines


async def test_period_buttons_of_someone_else_are_refused(
    bot: Harness, pat: Person, sam: Person
) -> None:
    await onboard(bot, pat)
    await onboard(bot, sam)
    await bot.send(pat, "/history")
    own = bot.screen(pat)
    forged = own.buttons()[0]["callback_data"].replace("h:1:", "h:2:")
    await bot.tap(pat, forged, own)
    toast = bot.api.calls_of("answerCallbackQuery")[-1].params
    assert "not shared with you" in toast["text"]


def test_the_chart_is_drawn_in_a_worker_process_the_bot_never_loads_matplotlib() -> None:
    """A fresh interpreter draws three charts through ChartWorker: PNGs come back, the drawing
    happened in another process, and matplotlib never entered the bot's own process."""
    script = textwrap.dedent(
        """
        import asyncio, os, sys
        from datetime import datetime
        from bot.chart import ChartSpec, ChartWorker, render

        def pid_of_worker(_spec):
            return os.getpid()

        async def main():
            worker = ChartWorker()
            spec = ChartSpec("Pain", (datetime(2026, 3, 1),), (5,), (), datetime(2026, 2, 24),
                             datetime(2026, 3, 2), None, "Where", ("Lower back",), (1,))
            pngs = [await worker.draw(spec) for _ in range(3)]
            pool = worker._pool
            drawn_by = pool.submit(os.getpid).result()
            worker.close()
            print(all(p.startswith(b"\\x89PNG") for p in pngs), drawn_by != os.getpid(),
                  "matplotlib" in sys.modules)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).parents[1],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "False"]


async def test_a_worker_that_died_is_started_again(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await add_checkins(bot, pat, 3)
    await bot.send(pat, "/history")
    worker = bot.services.charts
    pool = worker._pool
    assert pool is not None
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    await bot.send(pat, "/history")
    assert len(photos(bot, pat)) == 2
    assert bot.screen(pat).labels() == ["30 days", "90 days"]


async def test_without_a_chart_the_text_and_the_buttons_still_come(
    bot: Harness, pat: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(spec: ChartSpec) -> bytes:
        raise RuntimeError("no chart today")

    await onboard(bot, pat)
    await add_checkins(bot, pat, 3)
    monkeypatch.setattr(bot.services.charts, "draw", broken)
    await bot.send(pat, "/history")
    assert photos(bot, pat) == []
    assert "Your last 7 days" in bot.api.chat(pat.chat_id)[-2].text
    assert "chart could not be drawn" in bot.screen(pat).text
    assert bot.screen(pat).labels() == ["30 days", "90 days"]
    apology = bot.services.catalog.text("error.generic", "en")
    assert apology not in bot.api.texts_sent(pat.chat_id)


async def test_a_chart_that_takes_too_long_is_given_up_and_the_next_one_is_drawn() -> None:
    spec = ChartSpec("Pain", (datetime(2026, 3, 1),), (5,), (), datetime(2026, 2, 24),
                     datetime(2026, 3, 2), None, "Where", ("Lower back",), (1,))  # fmt: skip
    hasty = ChartWorker(timeout=0.01)  # less than a worker takes to start
    with pytest.raises(TimeoutError):
        await hasty.draw(spec)
    hasty.close()
    patient = ChartWorker(max_tasks=2)
    pngs = [await patient.draw(spec) for _ in range(3)]  # a fresh worker after the second
    patient.close()
    assert all(png_size(png) == (800, 600) for png in pngs)


async def test_a_chart_queued_behind_one_that_timed_out_is_never_a_cancellation() -> None:
    """Stopping a worker that ran out of time also drops the charts queued behind it; each of
    those gets a plain error (or its chart), never a CancelledError that would end the update."""
    spec = ChartSpec("Pain", (datetime(2026, 3, 1),), (5,), (), datetime(2026, 2, 24),
                     datetime(2026, 3, 2), None, "Where", ("Lower back",), (1,))  # fmt: skip
    hasty = ChartWorker(timeout=0.05)
    outcomes = await asyncio.gather(*(hasty.draw(spec) for _ in range(3)), return_exceptions=True)
    hasty.close()
    assert not [o for o in outcomes if isinstance(o, asyncio.CancelledError)], outcomes
    assert all(isinstance(o, (TimeoutError, ChartUnavailable, bytes)) for o in outcomes), outcomes


async def test_every_figure_on_a_line_counts_finished_check_ins_only(
    bot: Harness, pat: Person
) -> None:
    """A finished check-in at pain 3, then one left unfinished after urgent advice at pain 8 on
    the same day: the day shows pain 3 (not 3-8), says one was not finished, and keeps its 🚨."""
    from tests.test_checkin_flow import CHEST, FEVER, up_to_warnings

    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", "Done ▶", "Burning", "Done ▶", "None of these")
    await bot.press(pat, "None of these")
    bot.clock.advance(hours=2)
    await up_to_warnings(bot, pat, pain="8")
    await bot.press(pat, FEVER, CHEST, "Done ▶")  # urgent advice; the check-in is left open
    await bot.send(pat, "/history")
    text = next(m.text for m in bot.api.chat(pat.chat_id) if "Your last 7 days" in m.text)
    assert "Mon 2 Mar: pain 3 · " in text and "some not finished 🚨" in text
    assert "3–8" not in text
    assert "Average pain 3.0 this week." in text


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", ["1 Mar", "15 Mar", "1 Apr", "15 Apr", "1 May"]),
     ("de", ["1. März", "15. März", "1. Apr.", "15. Apr.", "1. Mai"])],
)  # fmt: skip
def test_the_charts_dates_are_written_in_the_persons_language(
    language: str, expected: list[str]
) -> None:
    """The time axis's dates come from Babel in the person's language (strftime gave English
    month names in every language)."""
    from bot.chart import ChartSpec, figure

    spec = ChartSpec("Pain", (datetime(2026, 3, 1), datetime(2026, 5, 3)), (5, 4), (),
                     datetime(2026, 2, 24), datetime(2026, 5, 10), None, "Where", ("Lower back",),
                     (1,), language=language)  # fmt: skip
    drawn = figure(spec)
    drawn.canvas.draw()
    assert [label.get_text() for label in drawn.axes[0].get_xticklabels()] == expected
