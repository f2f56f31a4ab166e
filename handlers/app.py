"""The composition root: the python-telegram-bot Application, with the bot's services
(``bot.app.build_services``), its handlers, jobs, transport and update processor."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    JobQueue,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.app import build_services
from bot.clock import Clock, SystemClock
from bot.config import ConfigError, Settings
from bot.health import Health
from bot.memory import give_back
from bot.periodic import tick_seconds
from bot.retention import DAILY
from bot.services import Services
from bot.sweep import Sweeper, SweepSettings
from bot.timezones import preload_places
from bot.transport import AiohttpRequest
from content.loader import DEFAULT_LANGUAGE, Catalog, default_catalog
from handlers import caregivers, checkin, data, escalations, onboarding, privacy, stop
from handlers import history as history_handlers
from handlers import settings as settings_handlers
from handlers.callbacks import on_button
from handlers.common import gate
from handlers.context import Context
from handlers.errors import on_error
from handlers.ordering import PerPersonProcessor
from handlers.reminders import TelegramReminderSender

log = logging.getLogger(__name__)

BotApp = Application[
    ExtBot[None], Context, dict[Any, Any], dict[Any, Any], dict[str, Any], JobQueue[Context]
]

COMMANDS = (
    "checkin",
    "history",
    "settings",
    "caregivers",
    "patients",
    "export",
    "delete",
    "privacy",
    "timezone",
    "cancel",
    "help",
)


def build_application(
    settings: Settings,
    request: BaseRequest | None = None,
    *,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
    rate_limit: bool = True,
    serve_health: bool = False,
) -> BotApp:
    """Everything wired in one place. ``request`` lets tests answer the Bot API in memory."""
    services = build_services(settings, clock or SystemClock(), catalog or default_catalog())
    metrics = services.metrics
    processor = PerPersonProcessor(settings.concurrent_updates)
    processor.observe = lambda update, seconds: metrics.update_handled(update_kind(update), seconds)
    processor.on_drop = metrics.updates_dropped.inc
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .token(settings.token())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .context_types(ContextTypes(context=Context))
        .concurrent_updates(processor)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if rate_limit and settings.telegram_max_messages_per_second > 0:
        # Stays under Telegram's overall limit and honours 429 retry_after with a few retries.
        limiter = AIORateLimiter(
            overall_max_rate=settings.telegram_max_messages_per_second, max_retries=3
        )
        builder = builder.rate_limiter(limiter)
    if request is not None:
        if isinstance(request, AiohttpRequest) and request.on_error is None:
            request.on_error = metrics.bot_api_error
        polling = request
    else:
        # aiohttp: a fraction of httpx's CPU per Bot API call (benchmarks/transport.md).
        request = AiohttpRequest(on_error=metrics.bot_api_error)
        polling = AiohttpRequest(connection_pool_size=1)
    if isinstance(polling, AiohttpRequest):
        # A flood is dropped before it is parsed (bot/intake.py).
        polling.updates_filter = services.intake.admit
    builder = builder.request(request).get_updates_request(polling)
    app: BotApp = builder.build()
    # Each update's first transaction records it as processed (bot/updates.py).
    processor.around = lambda update: services.updates.processing(app.bot.id, update.update_id)
    services.sweeper = Sweeper(
        services.sessions,
        services.clock,
        TelegramReminderSender(app.bot, services.catalog),
        SweepSettings(
            batch_size=settings.reminder_batch_size,
            lease=timedelta(seconds=settings.reminder_lease_seconds),
            grace=timedelta(minutes=settings.reminder_grace_minutes),
            max_attempts=settings.reminder_max_attempts,
        ),
        metrics,
    )
    app.bot_data["services"] = services
    if serve_health and settings.health_port:
        app.bot_data["health"] = Health(
            services.db_engine,
            services.clock,
            metrics,
            max_sweep_lag=settings.ready_max_sweep_lag_seconds,
            reader=lambda: services.reading.state,
        )

    private = filters.ChatType.PRIVATE
    app.add_handler(TypeHandler(Update, gate), group=-2)
    # Words typed after a command are read for warning signs before the command runs.
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & private & filters.COMMAND, checkin.command_words
        ),
        group=-1,
    )
    app.add_handler(MessageHandler(filters.COMMAND & ~private, onboarding.not_private))
    app.add_handler(CommandHandler("start", onboarding.start, filters=private))
    app.add_handler(CommandHandler("help", onboarding.help_command, filters=private))
    app.add_handler(CommandHandler("checkin", checkin.checkin_command, filters=private))
    app.add_handler(CommandHandler("timezone", onboarding.timezone_command, filters=private))
    app.add_handler(CommandHandler("settings", settings_handlers.settings_command, filters=private))
    app.add_handler(MessageHandler(private & filters.LOCATION, settings_handlers.location))
    app.add_handler(CommandHandler("history", history_handlers.history_command, filters=private))
    app.add_handler(CommandHandler("caregivers", caregivers.caregivers_command, filters=private))
    app.add_handler(CommandHandler("patients", caregivers.patients_command, filters=private))
    app.add_handler(CommandHandler("export", data.export_command, filters=private))
    app.add_handler(CommandHandler("delete", data.delete_command, filters=private))
    app.add_handler(CommandHandler("privacy", privacy.privacy_command, filters=private))
    app.add_handler(CommandHandler(["cancel", "stop"], stop.cancel_command, filters=private))
    # Any other command gets a short reply rather than silence.
    app.add_handler(MessageHandler(private & filters.COMMAND, stop.unknown_command))
    app.add_handler(ChatMemberHandler(stop.added_to_group, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(CallbackQueryHandler(on_button))
    new = filters.UpdateType.MESSAGE
    # An edited message was answered when it was first sent: read again for warning signs only.
    app.add_handler(
        MessageHandler(
            filters.UpdateType.EDITED_MESSAGE & private & (filters.TEXT | filters.CAPTION),
            checkin.edited_text,
        )
    )
    app.add_handler(
        MessageHandler(new & private & filters.TEXT & ~filters.COMMAND, checkin.text_message)
    )
    app.add_handler(MessageHandler(new & private & filters.CAPTION, checkin.text_message))
    app.add_handler(MessageHandler(new & private & ~filters.COMMAND, checkin.not_words))
    app.add_error_handler(on_error)

    if app.job_queue is not None:
        # One sweep job per process, whatever the number of patients: the schedule is in the
        # database, not in the job store.
        app.job_queue.run_repeating(
            one_at_a_time(_sweep),
            interval=settings.reminder_sweep_seconds,
            first=1.0,
            name="reminder-sweep",
            job_kwargs={"max_instances": 2, "coalesce": True},
        )
        # Digests and housekeeping run once per interval across all instances (bot/periodic.py).
        app.job_queue.run_repeating(
            shared("caregiver-digests", settings.caregiver_digest_seconds, caregivers.digests),
            interval=tick_seconds(settings.caregiver_digest_seconds),
            first=tick_seconds(settings.caregiver_digest_seconds),
            name="caregiver-digests",
        )
        app.job_queue.run_repeating(
            one_at_a_time(escalations.outbox_job),
            interval=settings.outbox_retry_seconds,
            first=settings.outbox_retry_seconds,
            name="escalation-outbox",
            job_kwargs={"max_instances": 2, "coalesce": True},
        )
        app.job_queue.run_repeating(
            shared("housekeeping", settings.housekeeping_interval_seconds, _housekeeping),
            interval=tick_seconds(settings.housekeeping_interval_seconds),
            first=tick_seconds(settings.housekeeping_interval_seconds),
            name="housekeeping",
        )
        # Per process, not shared: each instance hands its own free memory back.
        app.job_queue.run_repeating(
            memory_job,
            interval=settings.housekeeping_interval_seconds,
            first=settings.housekeeping_interval_seconds,
            name="memory",
        )
        app.job_queue.run_repeating(
            shared("retention", DAILY, _retention),
            interval=tick_seconds(DAILY),
            first=tick_seconds(DAILY),
            name="retention",
        )
    return app


def update_kind(update: object) -> str:
    """An update's kind as a metric label."""
    if isinstance(update, Update):
        if update.callback_query is not None:
            return "callback_query"
        if update.message is not None:
            text = update.message.text or ""
            return "command" if text.startswith("/") else "message"
    return "other"


def one_at_a_time(
    job: Callable[[Context], Coroutine[Any, Any, None]],
) -> Callable[[Context], Coroutine[Any, Any, None]]:
    """A repeating job that skips its turn while its previous run is still going (a long sweep
    at the morning peak), quietly: APScheduler's own limit would log a warning every time."""
    running = asyncio.Lock()

    async def run(context: Context) -> None:
        if running.locked():
            return
        async with running:
            await job(context)

    return run


def shared(
    name: str, interval: float, job: Callable[[Context], Coroutine[Any, Any, None]]
) -> Callable[[Context], Coroutine[Any, Any, None]]:
    """A repeating job run by whichever instance claims it once it is due (bot/periodic.py)."""
    every = timedelta(seconds=interval)

    async def run(context: Context) -> None:
        await context.services.periodic.run(name, every, lambda: job(context))

    return one_at_a_time(run)


async def _sweep(context: Context) -> None:
    """Send every reminder that is due."""
    sweeper = context.services.sweeper
    if sweeper is not None:
        await sweeper.run_once()


async def memory_job(context: Context) -> None:
    """Collect garbage and hand free heap memory back to the system (bot/memory.py)."""
    give_back()


async def _housekeeping(context: Context) -> None:
    """Close check-ins left unfinished past the time limit; forget old update ids."""
    await context.services.checkins.close_stale()
    await context.services.updates.prune()


async def _retention(context: Context) -> None:
    """Delete check-ins older than each person chose to keep them (once a day)."""
    await context.services.retention.apply()


async def _post_init(app: BotApp) -> None:
    services: Services = app.bot_data["services"]
    catalog = services.catalog
    health: Health | None = app.bot_data.get("health")
    if health is not None:
        settings = services.settings
        try:
            await health.start(settings.health_host, settings.health_port)
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on {settings.health_host}:{settings.health_port} for /healthz "
                f"and /metrics ({exc.strerror or type(exc).__name__}). Set HEALTH_PORT to a free "
                "port, or 0 to turn them off."
            ) from None
    log.info("running on the %s event loop", type(asyncio.get_running_loop()).__module__)
    # The text reader loads in its worker while the bot starts; a message typed meanwhile
    # waits for it (bot/reading.py).
    services.reading.start()
    # The towns read as time zones (about 3 MB), now rather than on someone's first answer.
    await asyncio.to_thread(preload_places)
    # The command menu in each language, for private chats (the only place the bot works);
    # English is also the default for every other language.
    private = BotCommandScopeAllPrivateChats()
    for lang in sorted(catalog.languages, key=lambda code: code == DEFAULT_LANGUAGE):
        commands = [BotCommand(c, catalog.text(f"command.{c}", lang)) for c in COMMANDS]
        code = None if lang == DEFAULT_LANGUAGE else lang
        try:
            await app.bot.set_my_commands(commands, scope=private, language_code=code)
        except TelegramError as exc:
            # The menu is a convenience: the bot works without it.
            log.warning("could not set the %s command menu: %s", lang, exc.message)


async def _post_shutdown(app: BotApp) -> None:
    services: Services = app.bot_data["services"]
    health: Health | None = app.bot_data.get("health")
    if health is not None:
        await health.stop()
    await services.charts.finish()
    await services.reading.finish()
    await services.db_engine.dispose()
