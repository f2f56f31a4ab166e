"""The FHIR export: a FHIR R4 (4.0/4.3) Bundle of type ``collection`` that other systems can
import (docs/export.md):

- one pseudonymous Patient (a random id, no name, no Telegram id);
- the check-in Questionnaire, its options coded in this project's code system;
- one QuestionnaireResponse per finished check-in, with every answer;
- one Observation per finished check-in for the pain score: LOINC 72514-3 (pain severity, 0-10
  verbal numeric rating, reported), its body site SNOMED CT 77568009 (structure of back of
  trunk) with the places the person tapped as text.

Built as plain JSON here; the tests validate it with ``fhir.resources``."""

from __future__ import annotations

import json
import uuid
from typing import Any

from bot.checkin import Engine, Step
from bot.records import Record, Records
from content.loader import Catalog

OPTIONS = "urn:uuid:bece6e95-ceb8-4c56-b0ae-2d28d1401b9d"
"""This project's code system for check-in options: codes ``<step>.<option>``, the ids of
content/questionnaire.yaml (a fixed UUID: the project has no web address of its own to name it)."""
QUESTIONNAIRE = "urn:uuid:e385c5de-91cc-4c32-ae91-cc96bd39586d"
"""The check-in questionnaire's canonical name (fixed)."""
LOINC_PAIN = {
    "system": "http://loinc.org",
    "code": "72514-3",
    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
}
SNOMED_BACK = {
    "system": "http://snomed.info/sct",
    "code": "77568009",
    "display": "Structure of back of trunk",
}
_BACK_PLACES = ("upper", "middle", "lower", "side_left", "side_right", "widespread")


def _urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def _when(record: Record) -> str:
    return (record.finished or record.started).isoformat(timespec="seconds")


def _questionnaire(catalog: Catalog, engine: Engine, lang: str) -> dict[str, Any]:
    items = []
    for step in Step:
        spec = engine.questionnaire.steps[step.value]
        item: dict[str, Any] = {
            "linkId": step.value,
            "text": catalog.text(f"q.{step.value}", lang).split("\n")[0],
        }
        if spec.kind == "scale":
            item["type"] = "integer"
        else:
            item["type"] = "choice"
            item["repeats"] = spec.kind == "multi"
            codes = [*spec.options, *([spec.none_option] if spec.none_option else [])]
            item["answerOption"] = [
                {"valueCoding": _option(catalog, lang, step, code)} for code in codes
            ]
        items.append(item)
    return {
        "resourceType": "Questionnaire",
        "url": QUESTIONNAIRE,
        "status": "active",
        "title": catalog.text("export.pdf.title", lang, name="").rstrip(": "),
        "item": items,
    }


def _option(catalog: Catalog, lang: str, step: Step, code: str) -> dict[str, Any]:
    key = f"opt.{step.value}.{code}"
    display = catalog.text(key, lang) if catalog.has_text(key) else code
    return {"system": OPTIONS, "code": f"{step.value}.{code}", "display": display}


def _response(catalog: Catalog, lang: str, record: Record, patient: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if record.pain is not None:
        items.append({"linkId": Step.PAIN.value, "answer": [{"valueInteger": record.pain}]})
    for step in Step:
        codes = record.answers.get(step.value, ())
        if step is Step.PAIN or not codes:
            continue
        answers = [{"valueCoding": _option(catalog, lang, step, code)} for code in codes]
        items.append({"linkId": step.value, "answer": answers})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": QUESTIONNAIRE,
        "status": "completed",
        "subject": {"reference": patient},
        "authored": _when(record),
        "item": items,
    }


def _observation(
    catalog: Catalog, lang: str, record: Record, patient: str, response: str
) -> dict[str, Any]:
    places = [p for p in _BACK_PLACES if p in record.answers.get(Step.WHERE.value, ())]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                        "display": "Survey",
                    }
                ]
            }
        ],
        "code": {"coding": [LOINC_PAIN], "text": "Back pain, 0-10"},
        "subject": {"reference": patient},
        "effectiveDateTime": _when(record),
        "valueInteger": record.pain,
        "derivedFrom": [{"reference": response}],
    }
    if places:
        labels = "; ".join(catalog.text(f"opt.where.{p}", lang) for p in places)
        observation["bodySite"] = {"coding": [SNOMED_BACK], "text": labels}
    return observation


def make_bundle(catalog: Catalog, engine: Engine, records: Records) -> bytes:
    """The finished check-ins of ``records`` as a FHIR Bundle (JSON bytes)."""
    lang = records.language
    patient = _urn()
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient,
            "resource": {
                "resourceType": "Patient",
                # Pseudonymous: no name, no Telegram id; the id is new in every export.
                "id": patient.removeprefix("urn:uuid:"),
                "active": True,
            },
        },
        {"fullUrl": _urn(), "resource": _questionnaire(catalog, engine, lang)},
    ]
    for record in records.finished:
        response = _urn()
        entries.append({"fullUrl": response, "resource": _response(catalog, lang, record, patient)})
        if record.pain is not None:
            entries.append(
                {
                    "fullUrl": _urn(),
                    "resource": _observation(catalog, lang, record, patient, response),
                }
            )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": records.made_at.isoformat(timespec="seconds"),
        "entry": entries,
    }
    return json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
