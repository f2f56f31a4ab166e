"""The services a handler may call, built once per process by ``bot.app``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.caregivers import CaregiverService
from bot.chart import ChartWorker
from bot.checkin import Engine
from bot.checkin_service import CheckinService
from bot.clock import Clock
from bot.config import Settings
from bot.digests import DigestService
from bot.escalations import Outbox
from bot.export import DataService
from bot.flood import FloodGuard
from bot.intake import Intake
from bot.invites import InviteService
from bot.metrics import Metrics
from bot.notes import NoteService
from bot.periodic import PeriodicRuns
from bot.reading import ReaderWorker
from bot.reminders import ReminderService
from bot.retention import RetentionService
from bot.sweep import Sweeper
from bot.text_intake import TextIntake
from bot.updates import UpdateLog
from bot.users import UserService
from content.loader import Catalog


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    clock: Clock
    db_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    users: UserService
    checkins: CheckinService
    notes: NoteService
    """A finished check-in's note (bot/notes.py)."""
    outbox: Outbox
    text: TextIntake
    updates: UpdateLog
    flood: FloodGuard
    intake: Intake
    reminders: ReminderService
    caregivers: CaregiverService
    invites: InviteService
    """Caregiver invites (bot/invites.py)."""
    digests: DigestService
    """Missed-check-in alerts and weekly summaries for caregivers (bot/digests.py)."""
    data: DataService
    charts: ChartWorker
    """Draws history charts in a worker process (bot/chart.py)."""
    reading: ReaderWorker
    """Reads typed text for warning signs in a worker process (bot/reading.py)."""
    periodic: PeriodicRuns
    """Claims the jobs that run once per interval across instances (bot/periodic.py)."""
    metrics: Metrics
    """Prometheus metrics of this process (bot/metrics.py)."""
    retention: RetentionService
    """How long each person's check-ins are kept, and the daily deletion (bot/retention.py)."""
    sweeper: Sweeper | None = None
    """Set by the composition root once the bot exists (the sweep needs it to send)."""

    @property
    def engine(self) -> Engine:
        return self.checkins.engine
