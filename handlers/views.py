"""Rendering: service results -> message text and buttons. All text comes from content/."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from babel.lists import format_list
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import locale
from bot.checkin import BACK, DONE, TICK, UNTICK, Engine, Step
from bot.checkin_service import CANCEL, Screen, Summary
from bot.emergency import Call
from bot.escalations import Advice, AlertJob
from bot.findings import Code, encode_codes
from bot.notes import fingerprint
from bot.timezones import QUICK_ZONES, place_label
from bot.triage import Tier
from bot.users import ZoneResult
from content.loader import Catalog, babel_locale
from handlers.callback_data import (
    CheckinTap,
    ConsentTap,
    FindingTap,
    HistoryTap,
    NoteTap,
    ProfileTap,
    ResumeTap,
    SettingsTap,
    ZoneTap,
    encode,
)
from handlers.common import Keyboard

Rendered = tuple[str, InlineKeyboardMarkup | None]

_B = TypeVar("_B")

_TICK = "✅ "
_WIDE_LABEL = 15
"""Labels longer than this get a row of their own (big targets for unsteady hands)."""


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _rows(buttons: Sequence[_B], per_row: int) -> list[list[_B]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def question(catalog: Catalog, engine: Engine, lang: str, screen: Screen) -> tuple[str, Keyboard]:
    """The question for ``screen.step`` with its buttons (ticks on a multi-select step), the
    buttons as the Bot API's JSON: this is drawn on every tap."""
    step = screen.step
    t = catalog.text

    def button(text: str, option: str) -> dict[str, str]:
        return {
            "text": text,
            "callback_data": encode(CheckinTap(screen.checkin_id, step.value, option)),
        }

    kind = engine.kind(step)
    rows: list[list[dict[str, str]]]
    if kind == "scale":
        rows = _rows([button(o, o) for o in engine.options(step)], 6)
    else:
        labels = [(o, t(f"opt.{step.value}.{o}", lang)) for o in engine.options(step)]
        ticked = set(screen.draft)
        if kind == "multi":
            # Each button says what it sets, so a repeated tap cannot flip it back.
            buttons = [
                button(_TICK + label, UNTICK + o) if o in ticked else button(label, TICK + o)
                for o, label in labels
            ]
        else:
            buttons = [button(label, o) for o, label in labels]
        wide = kind == "multi" and any(len(label) > _WIDE_LABEL for _, label in labels)
        rows = _rows(buttons, 1 if wide else 3 if kind == "single" else 2)
        if kind == "multi":
            none = engine.none_option(step)
            if none:
                rows.append([button(t(f"opt.{step.value}.{none}", lang), none)])
            rows.append([button(t("button.done", lang), DONE)])
    nav = [button(t("button.cancel", lang), CANCEL)]
    if screen.can_go_back:
        nav.insert(0, button(t("button.back", lang), BACK))
    rows.append(nav)
    if step is Step.RELAPSE:
        # Asked about the symptoms ticked on the screen before, which this one replaced.
        items = _labels(catalog, lang, Step.SYMPTOMS, screen.answers.symptoms,
                        engine.options(Step.SYMPTOMS))  # fmt: skip
        return t("q.relapse", lang, items=items), {"inline_keyboard": rows}
    return t(f"q.{step.value}", lang), {"inline_keyboard": rows}


def _labels(
    catalog: Catalog, lang: str, step: Step, options: Iterable[str], order: Sequence[str]
) -> str:
    chosen = set(options)
    return ", ".join(catalog.text(f"opt.{step.value}.{o}", lang) for o in order if o in chosen)


def summary(catalog: Catalog, engine: Engine, lang: str, result: Summary) -> Rendered:
    """What was saved, one or two tips with their sources, and the Add-a-note button."""
    t = catalog.text
    a = result.answers
    lines = [t("summary.title", lang), "", t("summary.pain", lang, pain=a.pain)]
    for step, chosen, key in (
        (Step.WHERE, a.where, "summary.where"),
        (Step.FEEL, a.feel, "summary.feel"),
        (Step.SYMPTOMS, a.symptoms, "summary.symptoms"),
    ):
        if chosen:
            lines.append(
                t(key, lang, items=_labels(catalog, lang, step, chosen, engine.options(step)))
            )
    for snippet in result.snippets:
        lines += [
            "",
            t("summary.tip", lang, text=snippet.text),
            t("summary.source", lang, title=catalog.source_title(snippet.source, lang)),
        ]
    if result.after_advice:
        # After urgent or emergency advice, no tip: the advice above is the last word.
        lines += ["", t("tier.after", lang)]
    lines += ["", t("summary.note_hint", lang)]
    keyboard = InlineKeyboardMarkup(
        [[_button(t("button.add_note", lang), encode(NoteTap(result.checkin_id, cancel=False)))]]
    )
    return "\n".join(lines), keyboard


def numbers(lang: str, call: Call) -> str:
    """ "112", or "1122 or 112", joined in the person's language."""
    return format_list(list(call.numbers), style="or", locale=babel_locale(lang))


def call_text(catalog: Catalog, lang: str, call: Call, theirs: bool = False) -> str:
    """ "call 112"; "call 1122 or your local emergency number" when only the person's own number
    is known; "call your local emergency number" when none is. ``theirs``: told to a caregiver
    about the patient ("their local emergency number")."""
    if call.checked:
        return catalog.text("emergency.known", lang, number=numbers(lang, call))
    suffix = "_theirs" if theirs else ""
    if not call.numbers:
        return catalog.text("emergency.unknown" + suffix, lang)
    return catalog.text("emergency.own" + suffix, lang, number=numbers(lang, call))


def emergency_call(catalog: Catalog, lang: str, advice: Advice, theirs: bool = False) -> str:
    return call_text(catalog, lang, advice.call, theirs)


def zone_saved(catalog: Catalog, lang: str, result: ZoneResult) -> str:
    """The time zone is saved, with the local time to check it by."""
    return catalog.text("tz.saved", lang, zone=result.zone, local_time=result.local_time)


def _what(catalog: Catalog, lang: str, advice: Advice) -> list[str]:
    """What the patient reported, one item per warning sign (or per rule without one)."""
    items = [catalog.text(f"what.{code.value}", lang) for code in advice.codes]
    for rule_id in advice.rule_ids:
        key = f"what.{rule_id}"
        if catalog.has_text(key):
            items.append(catalog.text(key, lang, pain=advice.pain))
    return list(dict.fromkeys(items))


def _why(catalog: Catalog, lang: str, advice: Advice) -> list[str]:
    lines: list[str] = []
    for rule_id in advice.rule_ids:
        if Tier.of(rule_id.split(".")[0]) is advice.tier and catalog.has_text(f"why.{rule_id}"):
            lines.append(catalog.text(f"why.{rule_id}", lang))
    if "urgent.fever" in advice.rule_ids and advice.immunosuppressed is not False:
        lines.append(catalog.text("why.urgent.fever.immuno", lang))
    return list(dict.fromkeys(lines))


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def advice_text(catalog: Catalog, lang: str, advice: Advice) -> str:
    """The one escalation message of a check-in, as HTML: what to do, where and how soon (bold),
    what was reported, why, and what to do if it gets worse."""
    t = catalog.text
    call = emergency_call(catalog, lang, advice)
    tier = advice.tier
    if tier is Tier.EMERGENCY:
        department = t("department.gb" if advice.country == "GB" else "department.other", lang)
        head = [t("tier.emergency.head", lang, emergency=call, department=department)]
        if not advice.call.numbers:
            head.append(t("emergency.mobile", lang))
        close = [t("tier.emergency.close", lang)]
        if advice.in_checkin:
            close.append(t("tier.emergency.saved", lang))
    elif tier is Tier.URGENT:
        fallback_key = "urgent.fallback.gb" if advice.country == "GB" else "urgent.fallback.other"
        head = [
            t("tier.urgent.head", lang),
            t("tier.urgent.do", lang, fallback=t(fallback_key, lang)),
        ]
        close = [t("tier.urgent.close", lang, emergency=call)]
    else:
        head = [t("tier.soon.head", lang)]
        close = [t("tier.soon.close", lang)]
    lines = [f"<b>{_esc(head[0])}</b>", *map(_esc, head[1:]), ""]
    what = _what(catalog, lang, advice)
    if what:
        lines.append(_esc(t("tier.told", lang)))
        lines += [f"• {_esc(item)}" for item in what]
        lines.append("")
    why = _why(catalog, lang, advice)
    if why:
        lines.append(_esc(t("tier.why", lang, why=" ".join(why))))
        lines.append("")
    lines += map(_esc, close)
    return "\n".join(lines)


def caregiver_alert(catalog: Catalog, lang: str, advice: Advice) -> str:
    """What a caregiver is told about an escalation, in the caregiver's language."""
    what = "; ".join(_what(catalog, lang, advice))
    name = advice.patient_name
    if advice.tier is Tier.EMERGENCY:
        call = emergency_call(catalog, lang, advice, theirs=True)
        return catalog.text("alert.emergency", lang, name=name, what=what, call=call)
    key = "alert.urgent" if advice.tier is Tier.URGENT else "alert.soon"
    return catalog.text(key, lang, name=name, what=what)


def caregiver_alert_message(catalog: Catalog, job: AlertJob) -> Rendered:
    """The alert, when it was reported (the caregiver's local time), and a button to open the
    patient's last 7 days (access is checked again when tapped)."""
    lang = job.language
    text = caregiver_alert(catalog, lang, job.advice)
    name = job.advice.patient_name
    at = when(catalog, lang, job.at)
    text += "\n" + (
        catalog.text("alert.when", lang, when=at)
        if job.own_zone
        else catalog.text("alert.when_theirs", lang, when=at, name=name)
    )
    label = catalog.text("alert.open_history", lang, name=job.advice.patient_name)
    keyboard = InlineKeyboardMarkup([[_button(label, encode(HistoryTap(job.patient_id, 7)))]])
    return text, keyboard


def ask_new(
    catalog: Catalog,
    lang: str,
    codes: frozenset[Code],
    checkin_id: int | None,
    guessed: bool = False,
) -> Rendered:
    """ "You mentioned ... Is this new since your last check-in?" with Yes / No; for the safety
    net's guess, "Do you mean ...? And is it new ...?" (the person never named it)."""
    what = ", ".join(catalog.text(f"what.{c.value}", lang) for c in Code if c in codes)
    short = encode_codes(codes)
    keyboard = InlineKeyboardMarkup(
        [
            [_button(catalog.text("ask.yes", lang), encode(FindingTap(short, True, checkin_id)))],
            [_button(catalog.text("ask.no", lang), encode(FindingTap(short, False, checkin_id)))],
        ]
    )
    return catalog.text("ask.check" if guessed else "ask.new", lang, what=what), keyboard


PROFILE_ORDER = ("imm", "bone", "cancer")
PROFILE_FIELD = {"imm": "immunosuppressed", "bone": "bone_risk", "cancer": "cancer_history"}


def profile_question(catalog: Catalog, lang: str, field: str, position: int) -> Rendered:
    """One of the profile questions, asked once, with Yes / No / Not sure."""
    t = catalog.text
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(t("profile.yes", lang), encode(ProfileTap(field, "y"))),
                _button(t("profile.no", lang), encode(ProfileTap(field, "n"))),
            ],
            [_button(t("profile.unsure", lang), encode(ProfileTap(field, "u")))],
        ]
    )
    intro = t("profile.intro", lang) + "\n\n" if position == 0 else ""
    return intro + t(f"profile.q.{field}", lang), keyboard


def consent(catalog: Catalog, lang: str, nonce: str) -> Rendered:
    keyboard = InlineKeyboardMarkup(
        [
            [_button(catalog.text("start.consent_button", lang), encode(ConsentTap(True, nonce)))],
            [_button(catalog.text("start.decline_button", lang), encode(ConsentTap(False, nonce)))],
        ]
    )
    return catalog.text("start.welcome", lang), keyboard


def zones(
    catalog: Catalog, lang: str, text_id: str = "start.consented", with_location: bool = True
) -> Rendered:
    buttons = [
        _button(place_label(z, lang, with_country=False), encode(ZoneTap(z))) for z in QUICK_ZONES
    ]
    rows = _rows(buttons, 2)
    if with_location:
        location = catalog.text("tz.location_button", lang)
        rows.append([_button(location, encode(SettingsTap("loc")))])
    rows.append([_button(catalog.text("tz.other_button", lang), encode(ZoneTap(None)))])
    return catalog.text(text_id, lang), InlineKeyboardMarkup(rows)


def zone_choices(catalog: Catalog, lang: str, text: str, choices: Sequence[str]) -> Rendered:
    """Places to pick from (a typed abbreviation or UTC offset), and "Other (type it)"."""
    buttons = [_button(place_label(z, lang), encode(ZoneTap(z))) for z in choices]
    rows = _rows(buttons, 2)
    rows.append([_button(catalog.text("tz.other_button", lang), encode(ZoneTap(None)))])
    return text, InlineKeyboardMarkup(rows)


def resume_offer(catalog: Catalog, lang: str, checkin_id: int) -> Rendered:
    keyboard = InlineKeyboardMarkup(
        [
            [_button(catalog.text("button.resume", lang), encode(ResumeTap(checkin_id, False)))],
            [_button(catalog.text("button.restart", lang), encode(ResumeTap(checkin_id, True)))],
        ]
    )
    return catalog.text("checkin.resume_offer", lang), keyboard


def note_prompt(catalog: Catalog, lang: str, checkin_id: int, note: str | None = None) -> Rendered:
    """Ask for a note; when there is one already, show it: a new one replaces it, or it can be
    removed or kept."""
    if not note:
        keyboard = InlineKeyboardMarkup(
            [[_button(catalog.text("button.cancel", lang),
                      encode(NoteTap(checkin_id, cancel=True)))]]
        )  # fmt: skip
        return catalog.text("note.prompt", lang), keyboard
    keyboard = InlineKeyboardMarkup(
        [
            [_button(catalog.text("button.note_remove", lang),
                     encode(NoteTap(checkin_id, cancel=False, remove=True,
                                    shown=fingerprint(note))))],
            [_button(catalog.text("button.note_keep", lang),
                     encode(NoteTap(checkin_id, cancel=True)))],
        ]
    )  # fmt: skip
    shown = note if len(note) <= 300 else note[:299] + "…"
    return catalog.text("note.replace_prompt", lang, note=shown), keyboard


def when(catalog: Catalog, lang: str, local: datetime | None) -> str:
    """A local instant as a person reads it: "Tue 3 Mar, 09:00"."""
    if local is None:
        return catalog.text("settings.none", lang)
    return locale.day_and_time(local, lang)
