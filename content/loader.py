"""Load and validate the content catalogue: messages, questionnaire, snippets, red-flag terms.

Everything a patient reads comes from here, by id, so a clinician can review the YAML without
reading Python, and another language is a new folder rather than new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from babel import Locale
from pydantic import BaseModel, ConfigDict, Field, model_validator

from content.yamlfile import parse_yaml

DEFAULT_LANGUAGE = "en"


class ContentError(ValueError):
    """The content files are inconsistent; the message names the file and the item."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    title: str
    short: str
    """What a patient sees after a snippet: a few words."""
    shorts: dict[str, str] = {}
    """``short`` in another language, by language code (the title of the page stays)."""
    publisher: str = ""
    url: str = ""
    dated: str = ""
    """When the source was published or last updated, as the publisher states it."""
    supports: str = ""
    """What this project uses the source for."""
    note: str = ""

    @model_validator(mode="after")
    def _clinical_sources_are_dated(self) -> Source:
        if self.url and not self.dated:
            raise ValueError("a source with a url needs its date (dated)")
        return self


class Message(_Strict):
    text: str
    source: str


class Step(_Strict):
    kind: Literal["scale", "single", "multi"]
    options: tuple[str, ...] = ()
    none_option: str | None = None
    min: int = 0
    max: int = 10

    @model_validator(mode="after")
    def _has_options(self) -> Step:
        if self.kind != "scale" and not self.options:
            raise ValueError("a single or multi step needs options")
        return self


class Questionnaire(_Strict):
    source: str
    steps: dict[str, Step]


class Snippet(_Strict):
    id: str
    tags: tuple[str, ...] = Field(min_length=1)
    source: str
    text: str


class _Messages(_Strict):
    language: str
    messages: dict[str, Message]


class _Snippets(_Strict):
    language: str
    snippets: tuple[Snippet, ...]


class _Emergency(_Strict):
    source: str
    numbers: dict[str, str]


LOCALES = {"en": "en_GB", "de": "de_DE"}
"""The CLDR locale of each content language (English is written the British way)."""


@cache
def babel_locale(lang: str) -> Locale:
    return Locale.parse(LOCALES.get(lang, "en_GB"))


def plural_form(count: int, lang: str) -> str:
    """The CLDR plural category of ``count``: "one", "other" (and, for other languages, more)."""
    return str(babel_locale(lang).plural_form(count))


@dataclass(frozen=True)
class Catalog:
    """All content, validated. Look text up with :meth:`text`."""

    sources: dict[str, Source]
    questionnaire: Questionnaire
    messages: dict[str, dict[str, Message]]  # language -> id -> message
    snippets: dict[str, tuple[Snippet, ...]]  # language -> snippets
    red_flag_sources: dict[str, str]
    """language -> the source of its red-flag terms (the terms are read by bot/free_text.py)."""
    emergency_numbers: dict[str, str]
    red_flag_drafts: frozenset[str] = frozenset()
    """Languages whose red-flag terms are marked ``status: draft`` (below the sensitivity
    target on held-out text): the bot reads them and says it may miss some."""

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.messages)

    def language_for(self, code: str | None) -> str:
        """The best catalogue language for a Telegram ``language_code`` (e.g. ``en-GB``)."""
        if code:
            base = code.split("-")[0].lower()
            if base in self.messages:
                return base
        return DEFAULT_LANGUAGE

    def text(self, message_id: str, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
        """The text of ``message_id`` in ``language`` (English when missing), filled in."""
        table = self.messages.get(language, self.messages[DEFAULT_LANGUAGE])
        message = table.get(message_id) or self.messages[DEFAULT_LANGUAGE].get(message_id)
        if message is None:
            raise KeyError(f"no message with id {message_id!r} in content/")
        return message.text.format(**values) if values else message.text

    def plural(self, message_id: str, language: str, count: int, **values: object) -> str:
        """``message_id.<form>`` for the plural form of ``count`` in ``language`` (one, other,
        ...), falling back to ``message_id.other``; ``count`` is filled in too."""
        form = f"{message_id}.{plural_form(count, language)}"
        key = form if self.has_text(form) else f"{message_id}.other"
        return self.text(key, language, count=count, **values)

    def has_text(self, message_id: str) -> bool:
        return message_id in self.messages[DEFAULT_LANGUAGE]

    def snippets_for(self, language: str) -> tuple[Snippet, ...]:
        return self.snippets.get(language, self.snippets[DEFAULT_LANGUAGE])

    def source_title(self, source_id: str, language: str = DEFAULT_LANGUAGE) -> str:
        source = self.sources[source_id]
        return source.shorts.get(language, source.short)


def _read_yaml(path: resources.abc.Traversable) -> Any:
    try:
        return parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContentError(f"content/{path.name}: cannot read: {exc}") from exc


def _parse(model: type[_Strict], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValueError as exc:
        raise ContentError(f"{where}: {exc}") from exc


def load_catalog(root: resources.abc.Traversable | None = None) -> Catalog:
    """Read every content file under ``root`` (the ``content`` package) and cross-check them."""
    base = root if root is not None else resources.files("content")
    sources_raw = _read_yaml(base / "sources.yaml")
    sources = {k: _parse(Source, v, f"sources.yaml:{k}") for k, v in sources_raw["sources"].items()}
    questionnaire: Questionnaire = _parse(
        Questionnaire, _read_yaml(base / "questionnaire.yaml"), "questionnaire.yaml"
    )
    emergency: _Emergency = _parse(
        _Emergency, _read_yaml(base / "emergency_numbers.yaml"), "emergency_numbers.yaml"
    )
    messages: dict[str, dict[str, Message]] = {}
    snippets: dict[str, tuple[Snippet, ...]] = {}
    red_sources: dict[str, str] = {}
    drafts: set[str] = set()
    for folder in sorted(base.iterdir(), key=lambda p: p.name):
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        lang = folder.name
        if (folder / "messages.yaml").is_file():
            parsed: _Messages = _parse(
                _Messages, _read_yaml(folder / "messages.yaml"), f"{lang}/messages.yaml"
            )
            messages[lang] = parsed.messages
        if (folder / "snippets.yaml").is_file():
            sn: _Snippets = _parse(
                _Snippets, _read_yaml(folder / "snippets.yaml"), f"{lang}/snippets.yaml"
            )
            snippets[lang] = sn.snippets
        if (folder / "red_flag_terms.yaml").is_file():
            terms = _read_yaml(folder / "red_flag_terms.yaml")
            if not isinstance(terms, dict) or not {"source", "targets", "modifiers"} <= set(terms):
                raise ContentError(
                    f"{lang}/red_flag_terms.yaml: needs source, targets and modifiers"
                )
            red_sources[lang] = str(terms["source"])
            if terms.get("status") == "draft":
                drafts.add(lang)
    catalog = Catalog(
        sources=sources,
        questionnaire=questionnaire,
        messages=messages,
        snippets=snippets,
        red_flag_sources=red_sources,
        red_flag_drafts=frozenset(drafts),
        emergency_numbers=emergency.numbers,
    )
    _cross_check(catalog, emergency.source)
    return catalog


def _cross_check(catalog: Catalog, emergency_source: str) -> None:
    if DEFAULT_LANGUAGE not in catalog.messages or DEFAULT_LANGUAGE not in catalog.snippets:
        raise ContentError(f"content/{DEFAULT_LANGUAGE}/ must have messages.yaml and snippets.yaml")
    if DEFAULT_LANGUAGE not in catalog.red_flag_sources:
        raise ContentError(f"content/{DEFAULT_LANGUAGE}/red_flag_terms.yaml is missing")
    used = {catalog.questionnaire.source, emergency_source, *catalog.red_flag_sources.values()}
    for lang, table in catalog.messages.items():
        used.update(m.source for m in table.values())
        for step_id, step in catalog.questionnaire.steps.items():
            if lang == DEFAULT_LANGUAGE and f"q.{step_id}" not in table:
                raise ContentError(f"{lang}/messages.yaml: no question text q.{step_id}")
            options = (*step.options, *((step.none_option,) if step.none_option else ()))
            for option in options:
                if lang == DEFAULT_LANGUAGE and f"opt.{step_id}.{option}" not in table:
                    raise ContentError(f"{lang}/messages.yaml: no label opt.{step_id}.{option}")
    for lang, items in catalog.snippets.items():
        ids = [s.id for s in items]
        if len(ids) != len(set(ids)):
            raise ContentError(f"{lang}/snippets.yaml: snippet ids must be unique")
        used.update(s.source for s in items)
    unknown = sorted(used - set(catalog.sources))
    if unknown:
        raise ContentError(f"content names sources that sources.yaml does not define: {unknown}")


@cache
def default_catalog() -> Catalog:
    """The catalogue shipped with the bot, loaded once per process."""
    return load_catalog()
