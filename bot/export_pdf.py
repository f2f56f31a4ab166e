"""The PDF report for a clinic visit (fpdf2): the period, a pain summary (mean, range, trend),
the history chart, how often each place, feeling and symptom was reported, every escalation with
its date and tier, and the notes. Three months of daily check-ins fit on one or two A4 pages.

:func:`report_spec` turns records into a :class:`PdfSpec` (plain, picklable data, already in the
person's language); :func:`render_pdf` draws it in the chart worker process (bot/chart.py), where
matplotlib is already loaded: the bot's own process never imports it."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

from bot import locale
from bot.chart import ChartSpec, render
from bot.checkin import Engine, Step
from bot.export_csv import finding_labels
from bot.records import Records
from content.loader import Catalog

NOTE_CHARS = 160
"""A note longer than this is shortened in the PDF (the CSV holds it whole)."""
MAX_NOTES = 25
"""Notes beyond this many (the most recent are kept) are left to the CSV: two pages at most."""


@dataclass(frozen=True)
class Table:
    title: str
    rows: tuple[tuple[str, int], ...]  # label, count


@dataclass(frozen=True)
class PdfSpec:
    title: str
    period: str
    made: str
    summary_title: str
    summary: tuple[str, ...]
    chart: ChartSpec | None
    how_often_title: str
    tables: tuple[Table, ...]
    escalations_title: str
    escalations: tuple[str, ...]
    notes_title: str
    notes: tuple[str, ...]
    page_label: str  # "Page {page} of {pages}" with the placeholders left in


def report_spec(catalog: Catalog, engine: Engine, records: Records, chart: ChartSpec) -> PdfSpec:
    lang = records.language
    t = catalog.text
    end = locale.full_date(records.made_at, lang)
    if records.since is not None:
        start = locale.full_date(records.since, lang)
        period = t("export.pdf.period", lang, start=start, end=end, zone=records.zone)
    else:
        period = t("export.pdf.period_all", lang, end=end, zone=records.zone)
    finished = records.finished
    summary = [t("export.pdf.count", lang, count=len(finished))]
    mean, span, trend = records.mean_pain(), records.pain_range(), records.trend()
    if mean is not None and span is not None:
        average = locale.number(mean, lang)
        summary.append(t("export.pdf.mean", lang, mean=average, low=span[0], high=span[1]))
    if trend is not None:
        summary.append(
            t(
                "export.pdf.trend",
                lang,
                first=locale.number(trend[0], lang),
                second=locale.number(trend[1], lang),
            )
        )
    if not finished:
        summary.append(t("export.pdf.no_checkins", lang))
    tables = []
    for step, column in ((Step.WHERE, "where"), (Step.FEEL, "feel"), (Step.SYMPTOMS, "symptoms")):
        counts = records.counts(step)
        rows = tuple(
            (t(f"opt.{step.value}.{o}", lang), counts[o])
            for o in engine.options(step)
            if counts.get(o)
        )
        tables.append(Table(t(f"export.col.{column}", lang), rows))
    escalations = tuple(
        f"{locale.full_date_and_time(e.at, lang)}  {t(f'export.tier.{e.tier}', lang)}"
        + (f"  ({finding_labels(catalog, lang, e.findings)})" if e.findings else "")
        for e in records.escalations()
    ) or (t("export.pdf.no_escalations", lang),)
    noted = [r for r in records.checkins if r.note]
    notes = []
    for record in noted[-MAX_NOTES:]:
        text = " ".join((record.note or "").split())
        if len(text) > NOTE_CHARS:
            text = text[: NOTE_CHARS - 1].rstrip() + "… " + t("export.pdf.shortened", lang)
        notes.append(f"{locale.full_date(record.started, lang)}  {text}")
    if len(noted) > MAX_NOTES:
        notes.append(catalog.plural("export.pdf.more_notes", lang, len(noted) - MAX_NOTES))
    return PdfSpec(
        title=t("export.pdf.title", lang, name=records.name),
        period=period,
        made=t("export.pdf.made", lang, date=end),
        summary_title=t("export.pdf.summary", lang),
        summary=tuple(summary),
        chart=chart if finished else None,
        how_often_title=catalog.plural("export.pdf.how_often", lang, len(finished)),
        tables=tuple(tables),
        escalations_title=t("export.pdf.escalations", lang),
        escalations=escalations,
        notes_title=t("export.pdf.notes", lang),
        notes=tuple(notes),
        page_label=t("export.pdf.page", lang, page="{page}", pages="{pages}"),
    )


def _font_folder() -> Path:
    """DejaVu Sans, which matplotlib ships: it covers the person's words in any Latin,
    Greek or Cyrillic script (the PDF's core fonts know Latin-1 only)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _NoTypedGlyphs(logging.Filter):
    """fpdf2 logs the characters its font lacks, and here they come from what a person typed
    (a note in a script DejaVu Sans does not cover, an emoji): the record keeps the font, never
    the characters."""

    MISSING = "Font %s is missing the following glyphs: %s"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MISSING and isinstance(record.args, tuple) and record.args:
            record.msg = "Font %s lacks some characters of what a person typed (not shown)"
            record.args = (record.args[0],)
        return True


def _quiet_fpdf() -> None:
    logger = logging.getLogger("fpdf.output")
    if not any(isinstance(f, _NoTypedGlyphs) for f in logger.filters):
        logger.addFilter(_NoTypedGlyphs())


def render_pdf(spec: PdfSpec) -> bytes:
    """The report as PDF bytes. Runs in the chart worker process."""
    from fpdf import FPDF

    _quiet_fpdf()

    folder = _font_folder()
    label = spec.page_label

    class Report(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", size=8)
            self.set_text_color(110)
            text = label.replace("{page}", str(self.page_no())).replace("{pages}", "{nb}")
            self.cell(0, 6, text, align="C")

    pdf = Report(format="A4", unit="mm")
    pdf.set_title(spec.title)
    pdf.set_creator("MS back-pain check-in bot")
    pdf.add_font("DejaVu", "", str(folder / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(folder / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    width = pdf.epw

    def heading(text: str, size: float = 12) -> None:
        pdf.set_font("DejaVu", "B", size)
        pdf.multi_cell(width, 6.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", size=9.5)

    def line(text: str, height: float = 4.8) -> None:
        pdf.multi_cell(width, height, text, new_x="LMARGIN", new_y="NEXT")

    heading(spec.title, 15)
    line(spec.period)
    pdf.set_text_color(90)
    pdf.set_font("DejaVu", size=8)
    line(spec.made, 4)
    pdf.set_text_color(0)
    pdf.ln(2)
    heading(spec.summary_title)
    for text in spec.summary:
        line(text)
    if spec.chart is not None:
        pdf.ln(1)
        pdf.image(io.BytesIO(render(spec.chart)), w=width * 0.82, x=15 + width * 0.09)
    pdf.ln(2)
    heading(spec.how_often_title, 11)
    column = (width - 8) / 3
    top = pdf.get_y()
    bottom = top
    for index, table in enumerate(spec.tables):
        x = 15 + index * (column + 4)
        pdf.set_xy(x, top)
        pdf.set_font("DejaVu", "B", 9.5)
        pdf.multi_cell(column, 5, table.title, new_x="LEFT", new_y="NEXT")
        pdf.set_font("DejaVu", size=9)
        for text, count in table.rows or (("–", 0),):
            pdf.set_x(x)
            shown = f"{text}: {count}" if count else text
            pdf.multi_cell(column, 4.6, shown, new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_xy(15, bottom + 2)
    heading(spec.escalations_title, 11)
    for text in spec.escalations:
        line(text)
    if spec.notes:
        pdf.ln(2)
        heading(spec.notes_title, 11)
        for text in spec.notes:
            line(text)
    return bytes(pdf.output())
