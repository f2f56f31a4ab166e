"""History: entries for a period, the text per day (or per week when long), a trend line, and
what the chart shows. Pure apart from ``HistoryService.load``; no Telegram imports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import locale
from bot.chart import ChartSpec, Marked
from bot.checkin import SPREAD, Engine, Step, answers_by_question
from bot.clock import Clock
from content.loader import Catalog
from db.models import User
from db.repo import history as repo
from db.repo.checkins import COMPLETE, OPEN

PERIODS = (7, 30, 90)
TELEGRAM_LIMIT = 4096
DAILY_TEXT_BUDGET = 3000
"""Above this, days are summarised by week so the text stays readable on a phone."""


@dataclass(frozen=True)
class Entry:
    """One completed check-in, as history shows it."""

    at: datetime  # local time of the patient
    pain: int
    where: frozenset[str]
    symptoms: frozenset[str]
    tiers: frozenset[str]
    complete: bool = True
    """False for a check-in left unfinished that is shown because it led to an escalation."""


@dataclass(frozen=True)
class Period:
    days: int
    now: datetime  # local
    zone: str
    entries: tuple[Entry, ...]  # oldest first
    language: str

    @property
    def start(self) -> date:
        return (self.now - timedelta(days=self.days - 1)).date()


class HistoryService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    async def load(self, session: AsyncSession, user: User, days: int) -> Period:
        """The last ``days`` local days of completed check-ins (today included), plus one more
        week before them for the trend."""
        zone = ZoneInfo(user.timezone or "UTC")
        now = self.clock.now().astimezone(zone)
        first_day = now.date() - timedelta(days=max(days, 14) - 1)
        start = datetime.combine(first_day, datetime.min.time(), zone)
        end = self.clock.now() + timedelta(seconds=1)
        rows = await repo.for_history(session, user.id, start, end)
        tiers = await repo.escalation_tiers(session, [c.id for c in rows])
        entries = []
        for c in rows:
            answers = answers_by_question(
                c.status == OPEN, c.state, ((a.question, a.value) for a in c.answers)
            )
            entries.append(
                Entry(
                    at=(c.finished_at or c.started_at).astimezone(zone),
                    pain=c.pain_score or 0,
                    where=frozenset(answers.get(Step.WHERE.value, ())),
                    symptoms=frozenset(answers.get(Step.SYMPTOMS.value, ())),
                    tiers=frozenset(tiers.get(c.id, ())),
                    complete=c.status == COMPLETE,
                )
            )
        return Period(days, now, str(zone), tuple(entries), user.language)


def in_period(period: Period) -> list[Entry]:
    return [e for e in period.entries if e.at.date() >= period.start]


def has_finished(period: Period) -> bool:
    """Whether the period holds a finished check-in (else there is no chart to draw)."""
    return any(e.complete for e in in_period(period))


def trend(period: Period) -> tuple[float | None, float | None]:
    """Average pain over the last 7 days and over the 7 days before them."""
    this_start = period.now.date() - timedelta(days=6)
    last_start = this_start - timedelta(days=7)
    done = [e for e in period.entries if e.complete]
    this = [e.pain for e in done if e.at.date() >= this_start]
    last = [e.pain for e in done if last_start <= e.at.date() < this_start]
    return (fmean(this) if this else None, fmean(last) if last else None)


def location_counts(entries: Sequence[Entry]) -> Counter[str]:
    return Counter(w for e in entries for w in e.where if w not in SPREAD)


def _labels(catalog: Catalog, engine: Engine, lang: str, step: Step, chosen: frozenset[str]) -> str:
    return ", ".join(
        catalog.text(f"opt.{step.value}.{o}", lang) for o in engine.options(step) if o in chosen
    )


def _flags(tiers: set[str] | frozenset[str]) -> str:
    return ("🚨" if "red" in tiers else "") + ("ℹ️" if "amber" in tiers else "")


def day_lines(catalog: Catalog, engine: Engine, period: Period) -> list[str]:
    """One line per day with check-ins: pain (highest when several), where, symptoms, flags."""
    lang = period.language
    by_day: dict[date, list[Entry]] = {}
    for entry in in_period(period):
        by_day.setdefault(entry.at.date(), []).append(entry)
    lines = []
    for day, entries in sorted(by_day.items()):
        # Figures from finished check-ins only, as the averages are; an unfinished one is shown
        # only because it led to advice, and is said to be unfinished.
        pains = [e.pain for e in entries if e.complete]
        shown = pains or [max(e.pain for e in entries)]
        if len(shown) > 1:
            pain = catalog.text("history.pain_range", lang, low=min(shown), high=max(shown))
        else:
            pain = catalog.text("history.pain", lang, pain=shown[0])
        parts = [f"{_day_name(catalog, lang, day)}: {pain}"]
        where = frozenset().union(*(e.where for e in entries))
        symptoms = frozenset().union(*(e.symptoms for e in entries))
        if where:
            parts.append(_labels(catalog, engine, lang, Step.WHERE, where))
        if symptoms:
            parts.append(_labels(catalog, engine, lang, Step.SYMPTOMS, symptoms))
        if not pains:
            parts.append(catalog.text("history.unfinished", lang))
        elif not all(e.complete for e in entries):
            parts.append(catalog.text("history.also_unfinished", lang))
        flags = _flags(frozenset().union(*(e.tiers for e in entries)))
        lines.append(" · ".join(parts) + (f" {flags}" if flags else ""))
    return lines


def week_lines(catalog: Catalog, period: Period) -> list[str]:
    """One line per week: number of check-ins, average and highest pain, flags."""
    lang = period.language
    weeks: dict[date, list[Entry]] = {}
    for entry in in_period(period):
        monday = entry.at.date() - timedelta(days=entry.at.weekday())
        weeks.setdefault(monday, []).append(entry)
    lines = []
    for monday, entries in sorted(weeks.items()):
        pains = [e.pain for e in entries if e.complete]
        week = _day_name(catalog, lang, monday)
        if pains:
            line = catalog.plural(
                "history.week",
                lang,
                len(pains),
                week=week,
                average=locale.number(fmean(pains), lang),
                high=max(pains),
            )
        else:
            line = catalog.text("history.week_none", lang, week=week)
        flags = _flags(frozenset().union(*(e.tiers for e in entries)))
        lines.append(line + (f" {flags}" if flags else ""))
    return lines


def _day_name(catalog: Catalog, lang: str, day: date) -> str:
    return locale.day(day, lang)


def text_messages(
    catalog: Catalog, engine: Engine, period: Period, who: str | None = None
) -> list[str]:
    """The history as one or more messages, each under Telegram's limit and cut only between
    lines; long periods are summarised by week."""
    lang = period.language
    header = [catalog.text("history.title", lang, days=period.days)]
    if who:
        header = [catalog.text("history.title_of", lang, days=period.days, name=who)]
    this, last = trend(period)
    if this is not None and last is not None:
        this_, last_ = locale.number(this, lang), locale.number(last, lang)
        header.append(catalog.text("history.trend", lang, this=this_, last=last_))
    elif this is not None:
        header.append(catalog.text("history.trend_this", lang, this=locale.number(this, lang)))
    lines = day_lines(catalog, engine, period)
    if not lines:
        empty = (
            catalog.text("history.empty_of", lang, name=who)
            if who
            else catalog.text("history.empty", lang)
        )
        return ["\n".join([*header, "", empty])]
    if sum(len(line) + 1 for line in lines) > DAILY_TEXT_BUDGET:
        lines = [catalog.text("history.by_week", lang), *week_lines(catalog, period)]
    return pack([*header, "", *lines])


def pack(lines: Sequence[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join lines into as few messages as fit, never splitting a line."""
    messages: list[str] = []
    current = ""
    for line in lines:
        line = line[:limit]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            messages.append(current)
            current = line
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


def chart_spec(
    catalog: Catalog, engine: Engine, period: Period, who: str | None = None
) -> ChartSpec:
    """What the chart shows for this period, in the person's language (drawn by
    ``bot.chart.ChartWorker``): the pain line with red and amber advice marked, and how often
    each place was reported."""
    lang = period.language
    shown = in_period(period)
    entries = [e for e in shown if e.complete]
    marked = []
    for tier, colour, key in (("red", "#cc0000", "history.legend_red"),
                              ("amber", "#f57900", "history.legend_amber")):  # fmt: skip
        hits = [e for e in shown if tier in e.tiers]
        if hits:
            marked.append(
                Marked(
                    colour,
                    catalog.text(key, lang),
                    tuple(e.at.replace(tzinfo=None) for e in hits),
                    tuple(e.pain for e in hits),
                )
            )
    counts = location_counts(entries)
    places = [o for o in engine.options(Step.WHERE) if o not in SPREAD]
    return ChartSpec(
        pain_title=(
            catalog.text("history.chart_pain_of", lang, days=period.days, name=who)
            if who
            else catalog.text("history.chart_pain", lang, days=period.days)
        ),
        times=tuple(e.at.replace(tzinfo=None) for e in entries),
        pains=tuple(e.pain for e in entries),
        marked=tuple(marked),
        start=datetime.combine(period.start, datetime.min.time()),
        end=period.now.replace(tzinfo=None) + timedelta(hours=6),
        empty_text=None if entries else catalog.text("history.empty", lang),
        where_title=catalog.text("history.chart_where", lang),
        places=tuple(catalog.text(f"opt.where.{o}", lang) for o in places),
        counts=tuple(counts.get(o, 0) for o in places),
        language=lang,
    )
