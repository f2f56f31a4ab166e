"""Sending advice and caregiver alerts from the outbox: at once after the tap that caused them,
and again from a periodic job until Telegram confirms each one."""

from __future__ import annotations

import logging

from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.escalations import Advice
from handlers import views
from handlers.context import Context

log = logging.getLogger(__name__)


def _retry_after(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


async def _send_patient(context: Context, advice: Advice) -> bool:
    """One try at the patient's advice; the outbox records the outcome."""
    services = context.services
    text = views.advice_text(services.catalog, advice.language, advice)
    try:
        await context.bot.send_message(advice.chat_id, text, parse_mode=ParseMode.HTML)
    except Forbidden:
        log.warning("escalation %s: the chat has blocked the bot", advice.escalation_id)
        await services.outbox.failed(advice.escalation_id, final="blocked")
        return False
    except RetryAfter as exc:
        await services.outbox.failed(advice.escalation_id, retry_after=_retry_after(exc))
        return False
    except BadRequest as exc:
        log.error("escalation %s refused by Telegram: %s", advice.escalation_id, exc.message)
        await services.outbox.failed(advice.escalation_id, final="refused")
        return False
    except TelegramError as exc:
        log.warning("escalation %s not sent yet: %s", advice.escalation_id, type(exc).__name__)
        await services.outbox.failed(advice.escalation_id)
        return False
    await services.outbox.delivered(advice.escalation_id)
    log.info("escalation %s delivered", advice.escalation_id)
    return True


async def send_now(context: Context, advice: Advice) -> bool:
    """Send the advice the moment it is stored (before anything else the patient sees).
    Returns whether Telegram confirmed it; if not, the outbox job tries again."""
    claimed = await context.services.outbox.claim(advice.escalation_id)
    if claimed is None:
        return False
    return await _send_patient(context, claimed)


async def alert_caregivers(context: Context, escalation_id: int | None = None) -> int:
    """Send caregiver alerts: those of one escalation, or every one that is due. Each caregiver
    is checked right before sending: a removed one gets nothing."""
    services = context.services
    sent = 0
    for job in await services.outbox.due_alerts(escalation_id):
        text, keyboard = views.caregiver_alert_message(services.catalog, job)
        try:
            await context.bot.send_message(job.chat_id, text, reply_markup=keyboard)
        except Forbidden:
            log.info("caregiver alert %s: the caregiver has blocked the bot", job.alert_id)
            await services.outbox.alert_failed(job.alert_id, final="blocked")
            continue
        except RetryAfter as exc:
            await services.outbox.alert_failed(job.alert_id, retry_after=_retry_after(exc))
            continue
        except TelegramError as exc:
            log.warning("caregiver alert %s not sent yet: %s", job.alert_id, type(exc).__name__)
            await services.outbox.alert_failed(job.alert_id)
            continue
        await services.outbox.alert_delivered(job.alert_id)
        sent += 1
    return sent


async def outbox_job(context: Context) -> None:
    """Periodic: advice and alerts that were not confirmed are sent again."""
    services = context.services
    for advice in await services.outbox.due_escalations():
        await _send_patient(context, advice)
    await alert_caregivers(context)
