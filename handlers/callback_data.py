"""Short, self-describing callback data (Telegram allows 1-64 bytes), encoded and decoded here.

    c:<checkin>:<step>:<option>   a tap on a question ('<' Back, '>' Done, 'x' Cancel)
    r:<checkin>:go|new            resume an open check-in, or start again
    n:<checkin>:add|x|rm[:<fp>]   add a note to a finished check-in, stop adding one, or remove it
                                  (Remove carries a fingerprint of the note it showed)
    o:yes|no                      consent
    tz:<zone>|tz:?                a time zone (the short list, or a place offered for what was
                                  typed: any zone with a country), or "type it"
    m:<delivery>:go|s30|s60|s120|skip   a button on a reminder
    s:<action>[:<arg>]            a settings button (times, days, pause, nudge, ...)
    g:<action>[:<id>[:<nonce>]]   a caregivers button (invite, remove, sharing, accept, decline;
                                  for caregivers: stop following, confirmed, the list again, and
                                  a patient's files);
                                  Remove and Stop carry the link as it was when drawn
    h:<patient>:7|30|90           a history period (access is checked again on every tap)
    x:del|keep                    the answer to "delete everything?"
    e:<fmt>[:<period>]            an export: csv|pdf|fhir, then 30|90|all|allx (allx: everything,
                                  unfinished check-ins too)
    e:<fmt>:<period>|p:<patient>  a caregiver's download of a patient they follow (p: not chosen)
    f:<codes>:y|n[:<checkin>]     "is this new?" about warning signs typed in words
    p:<field>:y|n|u               a profile answer (immune, bone, cancer): sets, never flips

Decoding never trusts the data: the service re-checks owner, step and openness in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.emergency import zone_countries
from bot.timezones import QUICK_ZONES

MAX_BYTES = 64
_ID = r"([1-9][0-9]{0,8})"
"""Row ids in buttons: below 10^9, so never beyond the 32-bit integer columns they are looked up
in (a forged larger number is refused here, not by a database error)."""
_CHECKIN = re.compile(rf"^c:{_ID}:([a-z_]{{1,24}}):([a-z0-9_<>+\-]{{1,24}})$")
_RESUME = re.compile(rf"^r:{_ID}:(go|new)$")
_NOTE = re.compile(rf"^n:{_ID}:(add|x|rm)(?::([0-9a-f]{{8}}))?$")
_REMINDER = re.compile(rf"^m:{_ID}:(go|s30|s60|s120|skip)$")
_SETTINGS = re.compile(r"^s:([a-z]{1,8})(?::([a-z0-9]{1,16}))?$")
_CARE_SET = re.compile(r"^g:(red|amber|week|miss|files):([0-9]{1,2})$")
_CARE = re.compile(
    rf"^g:(inv|rm|red|amber|miss|week|acc|dec|stop|stopy|pat|dl)"
    rf"(?::{_ID}(?::([0-9a-f]{{8}}))?)?$"
)
_HISTORY = re.compile(rf"^h:{_ID}:(7|30|90)$")
_FINDING = re.compile(rf"^f:([a-z]{{2}}(?:\.[a-z]{{2}}){{0,10}}):(y|n)(?::{_ID})?$")
_DATA = re.compile(r"^x:(del|keep)(?::([0-9a-f]{8}))?$")
_CONSENT = re.compile(r"^o:(yes|no)(?::([0-9a-f]{8}))?$")
_PROFILE = re.compile(r"^p:(imm|bone|cancer):(y|n|u)$")
_EXPORT = re.compile(rf"^e:(csv|pdf|fhir)(?::(30|90|all|allx|p)(?::{_ID})?)?$")


@dataclass(frozen=True)
class CheckinTap:
    checkin_id: int
    step: str
    option: str


@dataclass(frozen=True)
class ResumeTap:
    checkin_id: int
    restart: bool


@dataclass(frozen=True)
class NoteTap:
    checkin_id: int
    cancel: bool
    remove: bool = False
    """Remove the note the check-in has (offered when one is there already)."""
    shown: str = ""
    """Remove: the fingerprint of the note the button was shown with (``bot.notes.fingerprint``);
    a note changed since is not removed."""


@dataclass(frozen=True)
class ConsentTap:
    agree: bool
    nonce: str = ""
    """The consent question's nonce: a button from an older question does nothing."""


@dataclass(frozen=True)
class ZoneTap:
    zone: str | None
    """None means "let me type it"."""


@dataclass(frozen=True)
class ReminderTap:
    delivery_id: int
    action: str
    """go (start now), s30 / s60 / s120 (snooze minutes), skip (skip today)."""


@dataclass(frozen=True)
class SettingsTap:
    action: str
    arg: str | None = None


@dataclass(frozen=True)
class CareTap:
    action: str
    target: int | None = None
    nonce: str = ""
    """Remove: which link it was drawn for (a link re-made since gets a new one)."""


@dataclass(frozen=True)
class DataTap:
    delete: bool
    nonce: str = ""
    """The delete question's nonce: a button from before a change does nothing."""


@dataclass(frozen=True)
class ExportTap:
    fmt: str
    """csv, pdf or fhir."""
    period: str | None = None
    """None: not chosen yet; 30, 90, all, or allx (everything, unfinished check-ins too)."""
    patient_id: int | None = None
    """A caregiver's download of someone they follow (checked again: link and sharing)."""


@dataclass(frozen=True)
class HistoryTap:
    patient_id: int
    days: int


@dataclass(frozen=True)
class FindingTap:
    codes: str
    """Two-letter codes joined by dots (bot.findings.encode_codes)."""
    is_new: bool
    checkin_id: int | None = None


@dataclass(frozen=True)
class ProfileTap:
    field: str
    """imm, bone or cancer."""
    answer: str
    """y, n or u (not sure)."""


Tap = (
    CheckinTap
    | ResumeTap
    | NoteTap
    | ConsentTap
    | ZoneTap
    | ReminderTap
    | SettingsTap
    | CareTap
    | HistoryTap
    | DataTap
    | ExportTap
    | FindingTap
    | ProfileTap
)


def encode(tap: Tap) -> str:
    match tap:
        case CheckinTap(checkin_id, step, option):
            data = f"c:{checkin_id}:{step}:{option}"
        case ResumeTap(checkin_id, restart):
            data = f"r:{checkin_id}:{'new' if restart else 'go'}"
        case NoteTap(checkin_id, _, True, shown):
            data = f"n:{checkin_id}:rm" + (f":{shown}" if shown else "")
        case NoteTap(checkin_id, cancel):
            data = f"n:{checkin_id}:{'x' if cancel else 'add'}"
        case ConsentTap(agree, nonce):
            data = f"o:{'yes' if agree else 'no'}" + (f":{nonce}" if nonce else "")
        case ZoneTap(zone):
            data = f"tz:{zone or '?'}"
        case ReminderTap(delivery_id, action):
            data = f"m:{delivery_id}:{action}"
        case SettingsTap(action, arg):
            data = f"s:{action}" + (f":{arg}" if arg is not None else "")
        case CareTap(action, target, nonce):
            data = f"g:{action}" + (f":{target}" if target is not None else "")
            data += f":{nonce}" if nonce and target is not None else ""
        case HistoryTap(patient_id, days):
            data = f"h:{patient_id}:{days}"
        case DataTap(delete, nonce):
            data = f"x:{'del' if delete else 'keep'}" + (f":{nonce}" if nonce else "")
        case ExportTap(fmt, period, patient_id):
            if patient_id is not None:
                data = f"e:{fmt}:{period or 'p'}:{patient_id}"
            else:
                data = f"e:{fmt}" + (f":{period}" if period else "")
        case FindingTap(codes, is_new, checkin_id):
            data = f"f:{codes}:{'y' if is_new else 'n'}" + (
                f":{checkin_id}" if checkin_id is not None else ""
            )
        case ProfileTap(field, answer):
            data = f"p:{field}:{answer}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Tap | None:
    """The tap that ``data`` encodes, or None when it is malformed."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    if m := _CHECKIN.match(data):
        return CheckinTap(int(m.group(1)), m.group(2), m.group(3))
    if m := _RESUME.match(data):
        return ResumeTap(int(m.group(1)), m.group(2) == "new")
    if m := _NOTE.match(data):
        return NoteTap(int(m.group(1)), m.group(2) == "x", m.group(2) == "rm", m.group(3) or "")
    if m := _REMINDER.match(data):
        return ReminderTap(int(m.group(1)), m.group(2))
    if m := _SETTINGS.match(data):
        return SettingsTap(m.group(1), m.group(2))
    if m := _CARE_SET.match(data):
        return CareTap(m.group(1), int(m.group(2)))
    if m := _CARE.match(data):
        return CareTap(m.group(1), int(m.group(2)) if m.group(2) else None, m.group(3) or "")
    if m := _HISTORY.match(data):
        return HistoryTap(int(m.group(1)), int(m.group(2)))
    if m := _FINDING.match(data):
        return FindingTap(m.group(1), m.group(2) == "y", int(m.group(3)) if m.group(3) else None)
    if m := _PROFILE.match(data):
        return ProfileTap(m.group(1), m.group(2))
    if m := _EXPORT.match(data):
        period = None if m.group(2) in (None, "p") else m.group(2)
        return ExportTap(m.group(1), period, int(m.group(3)) if m.group(3) else None)
    if m := _DATA.match(data):
        return DataTap(m.group(1) == "del", m.group(2) or "")
    if m := _CONSENT.match(data):
        return ConsentTap(m.group(1) == "yes", m.group(2) or "")
    if data.startswith("tz:"):
        zone = data[3:]
        if zone == "?":
            return ZoneTap(None)
        if zone in QUICK_ZONES or zone in zone_countries():
            return ZoneTap(zone)
    return None
