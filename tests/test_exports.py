"""/export: a spreadsheet in the person's own words, a PDF report for the clinic visit, and a
FHIR R4 Bundle; for an empty history, one check-in and a year of daily check-ins."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from datetime import timedelta

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import insert, select

from db.models import CheckIn, CheckInAnswer, Escalation, User
from tests.botapi import ChatMessage
from tests.harness import Harness, Person
from tests.test_checkin_flow import BLADDER, CHEST, DONE, FEVER, onboard, up_to_warnings

CSV = "📄 Spreadsheet (CSV)"
PDF = "🩺 Report for your clinic (PDF)"
FHIR = "🔗 For health apps (FHIR)"


async def export_file(bot: Harness, person: Person, fmt: str, period: str) -> ChatMessage:
    await bot.send(person, "/export")
    await bot.press(person, fmt, period)
    sent = bot.screen(person)
    assert sent.document is not None, sent.text
    return sent


def rows_of(message: ChatMessage) -> list[dict[str, str]]:
    assert message.document is not None
    text = message.document.decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheet programs then read UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_the_csv_has_finished_check_ins_in_the_words_the_person_saw(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4", "Lower back", "Spreads to buttocks, legs or feet", DONE)
    await bot.press(pat, "Burning", DONE, "Tiredness (fatigue)", DONE, "None of these")
    await bot.press(pat, "📝 Add a note")
    await bot.send(pat, "=1+2 sore, but fine")
    bot.clock.advance(days=1)
    await up_to_warnings(bot, pat)
    await bot.press(pat, FEVER, CHEST, DONE)  # urgent advice; the chest question left open
    bot.clock.advance(days=1)
    await up_to_warnings(bot, pat, pain="6")
    await bot.press(pat, BLADDER, DONE)  # emergency advice closes the check-in

    sent = await export_file(bot, pat, CSV, "Last 30 days")
    assert "Your finished check-ins (2)" in sent.text
    first, third = rows_of(sent)
    assert list(first) == ["Date", "Time", "Pain (0-10)", "Where", "Feels like", "Other symptoms",
                           "Warning signs (tapped)", "Chest pain",
                           "New or worse symptoms for over a day", "Warning signs (typed)",
                           "Advice given", "Note"]  # fmt: skip
    assert first["Date"] == "2026-03-02" and first["Time"] == "10:00"  # Berlin time
    assert first["Pain (0-10)"] == "4"
    assert first["Where"] == "Lower back; Spreads to buttocks, legs or feet"
    assert first["Feels like"] == "Burning" and first["Other symptoms"] == "Tiredness (fatigue)"
    assert first["Advice given"] == ""
    assert first["Note"] == "'=1+2 sore, but fine"  # shown as typed, never run as a formula
    assert third["Pain (0-10)"] == "6"
    assert third["Advice given"] == "Emergency: call the emergency number now"
    assert third["Warning signs (tapped)"] == BLADDER

    everything = rows_of(await export_file(bot, pat, CSV, "Include unfinished check-ins too"))
    assert [r["Status"] for r in everything] == ["finished", "not finished", "finished"]
    assert everything[1]["Advice given"] == "Urgent: get medical advice today"


async def test_a_warning_sign_typed_outside_a_check_in_is_in_the_full_csv(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "I can't feel my bum at all since this morning")
    assert rows_of(await export_file(bot, pat, CSV, "Everything")) == []
    [row] = rows_of(await export_file(bot, pat, CSV, "Include unfinished check-ins too"))
    assert row["Status"] == "typed message"
    assert row["Advice given"] == "Emergency: call the emergency number now"
    assert row["Warning signs (typed)"]
    assert "bum" not in json.dumps(row)  # the codes are kept, not the words


async def add_daily_checkins(bot: Harness, person: Person, days: int) -> None:
    """A year (or ``days``) of daily finished check-ins, written straight to the database."""
    if not days:
        return
    now = bot.clock.now()
    async with bot.services.sessions.begin() as session:
        user_id = await session.scalar(select(User.id).where(User.telegram_id == person.user_id))
        rows = []
        for day in range(days - 1, -1, -1):  # today included
            at = now - timedelta(days=day)
            note = f"day {day}: " + "a longer note about the day " * 3 if day % 9 == 0 else None
            rows.append(
                {"user_id": user_id, "started_at": at, "finished_at": at + timedelta(minutes=1),
                 "updated_at": at, "status": "complete", "step": "done", "state": {},
                 "version": 1, "pain_score": (day * 7) % 11, "note": note}
            )  # fmt: skip
        ids = (await session.execute(insert(CheckIn).returning(CheckIn.id), rows)).scalars().all()
        places = ("lower", "middle", "upper")
        await session.execute(
            insert(CheckInAnswer),
            [
                *(
                    {"checkin_id": i, "question": "where", "value": places[n % 3]}
                    for n, i in enumerate(ids)
                ),
                *({"checkin_id": i, "question": "symptoms", "value": "fatigue"} for i in ids[::2]),
            ],
        )
        if len(ids) <= 10:
            return
        await session.execute(
            insert(Escalation),
            [{"user_id": user_id, "checkin_id": ids[10], "tier": "soon", "rule_ids": "soon.x",
              "findings": "", "created_at": now - timedelta(days=days - 10), "attempts": 1,
              "sent_at": now - timedelta(days=days - 10), "next_attempt_at": None}],
        )  # fmt: skip


def pdf_pages(data: bytes) -> tuple[int, str]:
    """Pages and text of a PDF, read back with pdfminer-free means: fpdf2's own reader is for
    writing, so the text is taken from the content streams via pypdf-like parsing in tests."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


async def test_the_pdf_report_of_a_year_of_daily_check_ins(bot: Harness, pat: Person) -> None:
    await onboard(bot, pat)
    await add_daily_checkins(bot, pat, 365)
    sent = await export_file(bot, pat, PDF, "Last 90 days")
    assert "Your report (90 finished check-ins)" in sent.text
    assert sent.document is not None and sent.document.startswith(b"%PDF")
    pages, text = pdf_pages(sent.document)
    assert 1 <= pages <= 2
    assert "Back pain diary: Pat" in text
    assert "Finished check-ins: 90" in text
    assert "Pain: average" in text and "lowest 0, highest 10" in text
    assert "Lower back: 30" in text and "Middle back (like a band): 30" in text
    assert "Tiredness (fatigue): 45" in text
    assert "None in this period." in text  # the one escalation is older than 90 days
    assert "more notes in the spreadsheet export" not in text

    everything = await export_file(bot, pat, PDF, "Everything")
    pages, text = pdf_pages(everything.document or b"")
    assert pages <= 2
    assert "Soon: contact the MS team in the next day or two" in text
    assert "more notes in the spreadsheet export" in text  # 40 notes: the oldest left to the CSV


def test_characters_the_pdf_font_lacks_never_reach_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A note in a script the font does not cover: fpdf2 would log the characters themselves."""
    from bot.export_pdf import PdfSpec, render_pdf

    typed = "腰痛がひどい 🙂"
    spec = PdfSpec(
        title="Back pain diary", period="2026", made="today", summary_title="Summary",
        summary=("Finished check-ins: 1",), chart=None, how_often_title="How often",
        tables=(), escalations_title="Advice", escalations=(), notes_title="Notes",
        notes=(f"2026-12-01: {typed}",), page_label="Page {page} of {pages}",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING):
        assert render_pdf(spec).startswith(b"%PDF")
    assert "lacks some characters of what a person typed" in caplog.text
    assert not any(ch in caplog.text for ch in typed.replace(" ", ""))


async def test_the_fhir_bundle_validates_and_codes_the_pain_score(
    bot: Harness, pat: Person
) -> None:
    await onboard(bot, pat)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "4", "Lower back", "Middle back (like a band)", DONE)
    await bot.press(pat, "Burning", DONE, "Tiredness (fatigue)", DONE, "None of these")
    sent = await export_file(bot, pat, FHIR, "Everything")
    assert sent.document is not None
    bundle = Bundle.model_validate_json(sent.document)
    kinds = [e.resource.get_resource_type() for e in bundle.entry or []]
    assert kinds == ["Patient", "Questionnaire", "QuestionnaireResponse", "Observation"]
    data = json.loads(sent.document)
    patient = data["entry"][0]["resource"]
    # No Telegram id anywhere (random UUIDs, which may hold the same digits by chance, aside).
    without_uuids = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "", sent.document.decode())
    assert "name" not in patient and str(pat.user_id) not in without_uuids
    observation = data["entry"][3]["resource"]
    assert observation["code"]["coding"][0]["code"] == "72514-3"
    assert observation["code"]["coding"][0]["system"] == "http://loinc.org"
    assert observation["valueInteger"] == 4
    site = observation["bodySite"]
    assert site["coding"][0] == {"system": "http://snomed.info/sct", "code": "77568009",
                                 "display": "Structure of back of trunk"}  # fmt: skip
    assert site["text"] == "Middle back (like a band); Lower back"
    response = data["entry"][2]["resource"]
    answered = {i["linkId"]: i["answer"] for i in response["item"]}
    assert answered["pain"] == [{"valueInteger": 4}]
    assert {a["valueCoding"]["code"] for a in answered["where"]} == {"where.lower", "where.middle"}


@pytest.mark.parametrize("fmt", [CSV, PDF, FHIR])
@pytest.mark.parametrize("days", [0, 1, 365])
async def test_each_format_for_no_check_in_one_and_a_year_of_them(
    bot: Harness, pat: Person, fmt: str, days: int
) -> None:
    await onboard(bot, pat)
    await add_daily_checkins(bot, pat, days)
    sent = await export_file(bot, pat, fmt, "Everything")
    assert sent.document is not None
    assert len(sent.document) < 50 * 1024 * 1024
    assert f"({days}" in sent.text  # the caption counts them
    if fmt == CSV:
        rows = rows_of(sent)
        assert len(rows) == days
        assert all(r["Pain (0-10)"].isdigit() for r in rows)
    elif fmt == PDF:
        pages, text = pdf_pages(sent.document)
        assert pages <= 2 and f"Finished check-ins: {days}" in text
        if not days:
            assert "No finished check-ins in this period." in text
    else:
        bundle = Bundle.model_validate_json(sent.document)
        kinds = [e.resource.get_resource_type() for e in bundle.entry or []]
        assert kinds.count("Observation") == days == kinds.count("QuestionnaireResponse")


async def test_export_before_consent_has_nothing(bot: Harness, pat: Person) -> None:
    await bot.send(pat, "/export")
    assert "don't keep any data" in bot.screen(pat).text


async def test_a_caregiver_downloads_files_only_while_the_patient_allows_it(
    bot: Harness, pat: Person, sam: Person
) -> None:
    from tests.test_caregivers import link

    await onboard(bot, pat)
    await link(bot, pat, sam)
    await bot.send(pat, "/checkin")
    await bot.press(pat, "3", "Lower back", DONE, "Aching or stiff", DONE, "None of these")
    await bot.press(pat, "None of these")
    await bot.send(sam, "/patients")
    assert "📄 Pat's files" not in bot.screen(sam).labels()  # not allowed: not offered
    refused = bot.message_with(sam, "Pat")
    # A forged download button is refused all the same.
    await bot.tap(sam, "e:csv:all:1", refused)
    assert "not shared with you" in bot.screen(sam).text
    assert bot.api.chat(sam.chat_id)[-1].document is None

    await bot.send(pat, "/caregivers")
    await bot.press(pat, "📄 Caregivers may download files: off")
    assert "📄 Caregivers may download files: on" in bot.screen(pat).labels()
    await bot.send(sam, "/patients")
    await bot.press(sam, "📄 Pat's files", CSV, "Everything")
    sent = bot.screen(sam)
    assert sent.document is not None and "Pat's check-ins (1), shared with you" in sent.text
    [row] = rows_of(sent)
    assert row["Where"] == "Lower back" and row["Pain (0-10)"] == "3"
    await bot.send(pat, "/caregivers")
    assert "Sam downloaded your check-ins" in bot.screen(pat).text

    await bot.press(pat, "📄 Caregivers may download files: on")  # taken back
    await bot.send(sam, "/patients")
    assert "📄 Pat's files" not in bot.screen(sam).labels()
    await bot.tap(sam, "e:pdf:30:1", refused)
    assert "not shared with you" in bot.screen(sam).text


async def test_an_escalation_from_a_check_in_begun_before_the_period_is_kept(
    bot: Harness, pat: Person
) -> None:
    """A check-in started a minute before the period and escalated a minute into it: the
    escalation is in the report all the same (listed with the warning signs typed outside)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    await onboard(bot, pat)
    berlin = ZoneInfo("Europe/Berlin")
    today = bot.clock.now().astimezone(berlin).date()
    since = datetime.combine(today - timedelta(days=29), datetime.min.time(), berlin)
    now = bot.clock.now()
    bot.clock.set(since - timedelta(minutes=1))
    await up_to_warnings(bot, pat)
    bot.clock.set(since + timedelta(minutes=1))
    await bot.press(pat, FEVER, CHEST, DONE)  # urgent advice, inside the period
    bot.clock.set(now)
    sent = await export_file(bot, pat, PDF, "Last 30 days")
    _, text = pdf_pages(sent.document or b"")
    assert "Urgent: get medical advice today" in text
