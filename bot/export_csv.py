"""The CSV export: one row per check-in, in the words the person saw, in their language.
Columns are documented in docs/export.md. Finished check-ins only, unless the person asks for
all (then a status column, unfinished check-ins, and warning signs typed outside check-ins)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from bot.checkin import Engine, Step
from bot.records import Raised, Record, Records
from content.loader import Catalog

COLUMNS = (
    "date",
    "time",
    "pain",
    "where",
    "feel",
    "symptoms",
    "warning",
    "chest",
    "relapse",
    "typed_warning_signs",
    "advice",
    "note",
)
"""Column ids, in order; the header row shows ``export.col.<id>`` in the person's language."""
STATUS = "status"
"""Inserted after ``time`` when unfinished check-ins are included."""
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP's advice: a leading quote)."""
    return f"'{value}" if value.startswith(_DANGEROUS) else value


def labels(catalog: Catalog, engine: Engine, lang: str, step: Step, codes: tuple[str, ...]) -> str:
    chosen = set(codes)
    order = [*engine.options(step), *(sorted(chosen - set(engine.options(step))))]
    return "; ".join(
        catalog.text(f"opt.{step.value}.{o}", lang)
        if catalog.has_text(f"opt.{step.value}.{o}")
        else o
        for o in order
        if o in chosen
    )


def finding_labels(catalog: Catalog, lang: str, codes: tuple[str, ...]) -> str:
    """Warning signs by their button labels (codes the buttons do not show stay codes)."""
    return "; ".join(
        catalog.text(f"opt.warning.{c}", lang) if catalog.has_text(f"opt.warning.{c}") else c
        for c in codes
    )


def advice(catalog: Catalog, lang: str, raised: tuple[Raised, ...] | list[Raised]) -> str:
    return "; ".join(catalog.text(f"export.tier.{r.tier}", lang) for r in raised)


def make_csv(catalog: Catalog, engine: Engine, records: Records, include_all: bool) -> bytes:
    lang = records.language
    columns = list(COLUMNS)
    if include_all:
        columns.insert(2, STATUS)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([catalog.text(f"export.col.{c}", lang) for c in columns])
    rows: list[tuple[datetime, list[object]]] = []
    for record in records.checkins:
        if record.complete or include_all:
            rows.append((record.started, _row(catalog, engine, lang, record, include_all)))
    if include_all:
        for raised in records.outside:
            cells: list[object] = [raised.at.date().isoformat(), raised.at.strftime("%H:%M"),
                                   catalog.text("export.status.message", lang)]  # fmt: skip
            cells += ["", "", "", "", "", "", "", finding_labels(catalog, lang, raised.findings)]
            cells += [advice(catalog, lang, [raised]), ""]
            rows.append((raised.at, cells))
    for _, cells in sorted(rows, key=lambda row: row[0]):
        writer.writerow([safe(c) if isinstance(c, str) else c for c in cells])
    # A byte-order mark, so that spreadsheet programs read the person's words as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _row(
    catalog: Catalog, engine: Engine, lang: str, record: Record, include_all: bool
) -> list[object]:
    cells: list[object] = [record.started.date().isoformat(), record.started.strftime("%H:%M")]
    if include_all:
        cells.append(catalog.text(f"export.status.{record.status}", lang))
    cells.append("" if record.pain is None else record.pain)
    for step in (Step.WHERE, Step.FEEL, Step.SYMPTOMS, Step.WARNING, Step.CHEST, Step.RELAPSE):
        cells.append(labels(catalog, engine, lang, step, record.answers.get(step.value, ())))
    cells.append(finding_labels(catalog, lang, record.typed))
    cells.append(advice(catalog, lang, record.raised))
    cells.append(record.note or "")
    return cells
