"""The bot's services, wired together: the database, the workers and every service the handlers
use (``bot.services.Services``). No Telegram here: ``handlers.app`` builds the Application on
top of them."""

from __future__ import annotations

import time

from bot.caregivers import CaregiverService
from bot.chart import shared_worker
from bot.checkin_service import CheckinService
from bot.clock import Clock
from bot.config import Settings
from bot.digests import DigestService
from bot.escalations import Outbox
from bot.export import DataService
from bot.flood import FloodGuard
from bot.history import HistoryService
from bot.intake import Intake
from bot.invites import InviteService
from bot.metrics import Metrics
from bot.notes import NoteService
from bot.periodic import PeriodicRuns
from bot.reading import shared_reader
from bot.reminders import ReminderService
from bot.retention import RetentionService
from bot.services import Services
from bot.text_intake import TextIntake
from bot.updates import UpdateLog
from bot.users import UserService
from content.loader import Catalog
from db.session import create_engine, create_sessionmaker
from db.tap import TapStore


def build_services(settings: Settings, clock: Clock, catalog: Catalog) -> Services:
    # No pool_pre_ping (it adds round trips to every transaction); PostgreSQL connections are
    # recycled before servers or proxies drop idle ones instead.
    db_engine = create_engine(settings.database_url, hide_parameters=True, pool_recycle=600)
    sessions = create_sessionmaker(db_engine)
    metrics = Metrics()
    charts = shared_worker()
    reading = shared_reader(catalog.red_flag_sources)
    history = HistoryService(sessions, clock)
    outbox = Outbox(sessions, clock, catalog.emergency_numbers, metrics)
    checkins = CheckinService(
        sessions,
        catalog,
        clock,
        outbox=outbox,
        timeout_minutes=settings.checkin_timeout_minutes,
        metrics=metrics,
        taps=TapStore(db_engine),
    )
    return Services(
        settings=settings,
        catalog=catalog,
        clock=clock,
        db_engine=db_engine,
        sessions=sessions,
        users=UserService(sessions, catalog, clock),
        checkins=checkins,
        notes=NoteService(sessions, checkins),
        outbox=outbox,
        updates=UpdateLog(sessions, clock),
        flood=FloodGuard(settings.flood_max_updates, settings.flood_window_seconds, time.monotonic),
        intake=Intake(
            settings.flood_max_updates,
            settings.flood_window_seconds,
            on_drop=metrics.updates_dropped.inc,
        ),
        text=TextIntake(
            checkins,
            reading.read,
            note_max_chars=settings.note_max_chars,
        ),
        reminders=ReminderService(sessions, clock, nudge_minutes=settings.nudge_minutes),
        caregivers=CaregiverService(sessions, clock, catalog, history),
        invites=InviteService(sessions, clock, invite_hours=settings.caregiver_invite_hours),
        digests=DigestService(sessions, clock, history),
        data=DataService(sessions, clock, catalog, checkins.engine, charts),
        charts=charts,
        reading=reading,
        periodic=PeriodicRuns(sessions, clock),
        retention=RetentionService(sessions, clock),
        metrics=metrics,
    )
