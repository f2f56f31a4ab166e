"""A person's own data: exports (CSV, a PDF report, FHIR; docs/export.md), and deletion of
everything kept about them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.caregivers import name_of
from bot.chart import ChartSpec, ChartWorker
from bot.checkin import Engine, Step
from bot.clock import Clock
from bot.export_csv import make_csv
from bot.export_fhir import make_bundle
from bot.export_pdf import render_pdf, report_spec
from bot.history import Entry, Period, chart_spec
from bot.records import Records, load_records
from content.loader import Catalog
from db.models import CaregiverView, SharingSettings, User
from db.repo import caregivers as care_repo
from db.repo import users as user_repo

log = logging.getLogger(__name__)

FORMATS = ("csv", "pdf", "fhir")
PERIODS = {"30": 30, "90": 90, "all": None, "allx": None}
"""Export periods: days, or None for everything (allx: everything, unfinished too)."""
TELEGRAM_FILE_LIMIT = 50 * 1024 * 1024
"""Telegram takes documents up to 50 MB from bots."""
MEDIA_TYPES = {"csv": "text/csv", "pdf": "application/pdf", "fhir": "application/fhir+json"}
SUFFIXES = {"csv": "csv", "pdf": "pdf", "fhir": "json"}


@dataclass(frozen=True)
class Export:
    filename: str
    data: bytes
    rows: int
    """Check-ins in it (finished ones, unless unfinished were asked for)."""
    fmt: str
    include_all: bool = False
    whose: str | None = None
    """A caregiver's download: the patient's name (None: the person's own)."""


class ExportTooBig(ValueError):
    """The file would be over Telegram's limit for documents."""


class DataService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        catalog: Catalog,
        engine: Engine,
        charts: ChartWorker,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.catalog = catalog
        self.engine = engine
        self.charts = charts

    async def records(self, telegram_id: int, days: int | None) -> Records | None:
        """The person's own records for the period; None before consent."""
        async with self.sessions.begin() as session:
            user = await user_repo.by_telegram_id(session, telegram_id)
            if user is None or user.consent_at is None:
                return None
            return await load_records(session, user, self.clock.now(), days, name_of(user))

    async def export(self, telegram_id: int, fmt: str, period: str) -> Export | None:
        """The person's data as a file: ``fmt`` csv, pdf or fhir; ``period`` 30, 90, all or
        allx. None before consent; :class:`ExportTooBig` over Telegram's limit."""
        records = await self.records(telegram_id, PERIODS[period])
        if records is None:
            return None
        return await self.make(records, fmt, include_all=period == "allx")

    async def export_for(
        self, viewer_tg: int, patient_id: int, fmt: str, period: str
    ) -> Export | None:
        """A caregiver's download of a patient they follow: only while the link is active and
        the patient lets caregivers download files; recorded as a view. None otherwise."""
        async with self.sessions.begin() as session:
            viewer = await user_repo.by_telegram_id(session, viewer_tg)
            if (
                viewer is None
                or await care_repo.active_link(session, patient_id, viewer.id) is None
            ):
                return None
            sharing = await session.get(SharingSettings, patient_id)
            patient = await session.get(User, patient_id)
            if sharing is None or not sharing.caregiver_files or patient is None:
                log.info("files of user %s refused to user %s", patient_id, viewer.id)
                return None
            session.add(
                CaregiverView(
                    patient_id=patient_id,
                    caregiver_id=viewer.id,
                    viewed_at=self.clock.now(),
                    kind="export",
                    days=PERIODS[period] or 0,
                )
            )
            records = await load_records(
                session, patient, self.clock.now(), PERIODS[period], name_of(patient)
            )
            language = viewer.language
        # In the caregiver's language; the times stay the patient's own.
        records = replace(records, language=language)
        made = await self.make(records, fmt, include_all=period == "allx")
        return replace(made, whose=records.name)

    async def make(self, records: Records, fmt: str, *, include_all: bool = False) -> Export:
        if fmt == "csv":
            data = make_csv(self.catalog, self.engine, records, include_all)
            rows = len(records.checkins) if include_all else len(records.finished)
        elif fmt == "pdf":
            spec = report_spec(self.catalog, self.engine, records, self.chart_of(records))
            data = await self.charts.run(render_pdf, spec)
            rows = len(records.finished)
        else:
            data = make_bundle(self.catalog, self.engine, records)
            rows = len(records.finished)
        if len(data) > TELEGRAM_FILE_LIMIT:
            raise ExportTooBig(fmt)
        log.info("export made: %s, %d check-ins", fmt, rows)
        day = records.made_at.date().isoformat()
        filename = f"back-pain-{fmt if fmt != 'fhir' else 'fhir'}-{day}.{SUFFIXES[fmt]}"
        return Export(filename, data, rows, fmt, include_all)

    def chart_of(self, records: Records) -> ChartSpec:
        """The history chart of the period, as /history draws it (finished check-ins)."""
        first = records.since or (
            records.checkins[0].started if records.checkins else records.made_at
        )
        days = max(1, (records.made_at.date() - first.date()).days + 1)
        entries = tuple(
            Entry(
                at=r.finished or r.started,
                pain=r.pain or 0,
                where=frozenset(r.answers.get(Step.WHERE.value, ())),
                symptoms=frozenset(r.answers.get(Step.SYMPTOMS.value, ())),
                tiers=frozenset(
                    "red" if e.tier in ("emergency", "urgent") else "amber" for e in r.raised
                ),
            )
            for r in records.finished
        )
        period = Period(days, records.made_at, records.zone, entries, records.language)
        return chart_spec(self.catalog, self.engine, period)

    async def delete_everything(self, telegram_id: int) -> bool:
        """Delete the person and, through the foreign keys, all that hangs on them: check-ins,
        answers, notes, escalations, reminders, invites, caregiver links both ways, views."""
        async with self.sessions.begin() as session:
            result = await session.execute(delete(User).where(User.telegram_id == telegram_id))
            deleted = bool(getattr(result, "rowcount", 0))
        if deleted:
            log.info("a user deleted their data")
        return deleted
