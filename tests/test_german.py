"""German, complete: every message, button, snippet and question exists in both languages with
the same placeholders and sources; a German-speaking person is served in German through the real
Application, dates and numbers written the German way, and the red-flag advice says exactly what
the English says (same tier, same action, same number)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from content.loader import default_catalog
from tests.harness import Harness, Person

CATALOG = default_catalog()


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def _tags(text: str) -> list[str]:
    return re.findall(r"</?\w+>", text)


def test_german_and_english_read_the_same_warning_signs_the_same_ways() -> None:
    """The free-text reader of each language has words for every warning sign, the same loose
    cues (asked about, never escalated) and the same ways of telling a message typed for the
    patient: a sign read in one language and not the other fails here."""
    import yaml

    terms = {
        lang: yaml.safe_load(
            (Path(__file__).parents[1] / "content" / lang / "red_flag_terms.yaml").read_text(
                encoding="utf-8"
            )
        )
        for lang in ("en", "de")
    }
    for section in ("targets", "cues", "for_someone"):
        assert set(terms["en"][section]) == set(terms["de"][section]), section


def test_german_and_english_hold_the_same_messages_sources_and_placeholders() -> None:
    en, de = CATALOG.messages["en"], CATALOG.messages["de"]
    assert set(en) == set(de)
    for key in en:
        assert de[key].source == en[key].source, key
        assert _placeholders(de[key].text) == _placeholders(en[key].text), key
        assert _tags(de[key].text) == _tags(en[key].text), key
        assert de[key].text.strip(), key


def test_german_and_english_hold_the_same_snippets_with_the_same_sources() -> None:
    en = {s.id: s for s in CATALOG.snippets_for("en")}
    de = {s.id: s for s in CATALOG.snippets_for("de")}
    assert set(en) == set(de)
    for snippet_id, snippet in en.items():
        assert de[snippet_id].source == snippet.source, snippet_id
        assert de[snippet_id].model_dump(exclude={"text", "title"}) == snippet.model_dump(
            exclude={"text", "title"}
        ), snippet_id


@pytest.mark.parametrize("key", [k for k in CATALOG.messages["en"] if k.startswith(("tier.",
                                 "alert.", "emergency.", "urgent."))])  # fmt: skip
def test_red_flag_texts_keep_the_number_and_the_action(key: str) -> None:
    """The advice texts carry the same placeholders (the number, what was found) and the same
    emoji that mark the tier, so a German escalation is as urgent as the English one."""
    en, de = CATALOG.text(key, "en"), CATALOG.text(key, "de")
    marks = ("🚨", "⚠️", "ℹ️")
    assert [m for m in marks if m in de] == [m for m in marks if m in en], key
    assert re.findall(r"\d{3}", de) == re.findall(r"\d{3}", en), key  # 112, 999, 111


async def test_a_german_speaker_is_served_in_german_end_to_end(bot: Harness) -> None:
    t = CATALOG.text
    greta = Person(4711, "Greta", "de")
    await bot.send(greta, "/start")
    assert t("start.consent_button", "de") in bot.screen(greta).labels()
    await bot.press(greta, t("start.consent_button", "de"), "Berlin")
    for _ in range(3):
        await bot.press(greta, t("profile.no", "de"))
    await bot.send(greta, "/checkin")
    assert bot.screen(greta).text.startswith(t("q.pain", "de").split("\n")[0])
    await bot.press(greta, "3", t("opt.where.lower", "de"), t("button.done", "de"))
    await bot.press(greta, t("opt.feel.aching", "de"), t("button.done", "de"))
    await bot.press(greta, t("opt.symptoms.none", "de"))
    await bot.press(greta, t("opt.warning.bladder_bowel", "de"), t("button.done", "de"))
    advice = [m.text for m in bot.api.chat(greta.chat_id) if m.text.startswith("<b>🚨")]
    assert advice and "112" in advice[-1]  # Berlin: the same number as in English
    english = Person(4712, "Eve", "en")
    await bot.send(english, "/start")
    await bot.press(english, "Yes, that's OK", "Berlin", "No", "No", "No")
    await bot.send(english, "/checkin")
    await bot.press(english, "3", "Lower back", "Done ▶", "Aching or stiff", "Done ▶")
    await bot.press(english, "None of these")
    await bot.press(english, "Trouble holding or passing urine or stool", "Done ▶")
    said = [m.text for m in bot.api.chat(english.chat_id) if m.text.startswith("<b>🚨")]
    assert said and "112" in said[-1]
    bot.clock.advance(days=1)
    await bot.send(greta, "/history")
    history = next(m.text for m in bot.api.chat(greta.chat_id) if "Ihre letzten 7 Tage" in m.text)
    assert "Mo., 2. März" in history  # the date the German way


async def test_two_emergency_numbers_are_joined_in_the_persons_language(bot: Harness) -> None:
    from tests.test_checkin_flow import emergency_by_button, onboard_in

    for person, lang, joined in ((Person(4721, "Greta", "de"), "de", "112 oder 999"),
                                 (Person(4722, "Eve", "en"), "en", "112 or 999")):  # fmt: skip
        await onboard_in(bot, person, "Dublin", lang)  # Ireland: 112 and 999 reach an ambulance
        advice = await emergency_by_button(bot, person, lang)
        assert joined in advice, advice


async def test_the_language_can_be_changed_in_settings(bot: Harness, pat: Person) -> None:
    from tests.test_checkin_flow import onboard

    await onboard(bot, pat)
    await bot.send(pat, "/settings")
    assert "✅ English" in bot.screen(pat).labels() and "Deutsch" in bot.screen(pat).labels()
    await bot.press(pat, "Deutsch")
    assert "✅ Deutsch" in bot.screen(pat).labels()
    assert bot.screen(pat).text.startswith(CATALOG.text("settings.title", "de"))
    await bot.send(pat, "/help")
    assert bot.screen(pat).text.startswith(CATALOG.text("help", "de").split("\n")[0])


async def test_german_words_are_read_and_german_speakers_told_some_may_be_missed(
    bot: Harness,
) -> None:
    """The German terms are a draft (held-out sensitivity below target, docs/triage-eval.md):
    typed German is read and escalated where recognised, and every other reply to typed text
    says that some warning signs may be missed, with what to do instead."""
    assert "de" in CATALOG.red_flag_drafts
    greta = Person(4713, "Greta", "de")
    await bot.send(greta, "/start")
    await bot.press(greta, CATALOG.text("start.consent_button", "de"), "Berlin")
    for _ in range(3):
        await bot.press(greta, CATALOG.text("profile.no", "de"))
    await bot.send(greta, "ich kann seit heute morgen nicht mehr pinkeln")
    advice = [m.text for m in bot.api.chat(greta.chat_id) if m.text.startswith("<b>🚨")]
    assert advice and "112" in advice[-1]
    await bot.send(greta, "heute war ein ruhiger tag")
    reply = bot.screen(greta).text
    assert reply.startswith(CATALOG.text("text.partly_read_brief", "de"))
    assert reply.endswith(CATALOG.text("text.not_kept", "de"))  # short
    assert reply.count("Notrufnummer") == 1  # the emergency line once, not twice


def test_the_german_development_corpus_meets_the_targets() -> None:
    from pathlib import Path

    from bot.free_text import Readers
    from bot.triage_eval import evaluate, load_corpus

    corpus = Path(__file__).parent / "corpus" / "free_text_de.yaml"
    report = evaluate(Readers(CATALOG.red_flag_sources), load_corpus(corpus))
    assert report.meets_targets


async def test_a_german_summary_names_its_sources_in_german(bot: Harness) -> None:
    t = CATALOG.text
    greta = Person(4714, "Greta", "de")
    await bot.send(greta, "/start")
    await bot.press(greta, t("start.consent_button", "de"), "Berlin")
    for _ in range(3):
        await bot.press(greta, t("profile.no", "de"))
    await bot.send(greta, "/checkin")
    await bot.press(greta, "3", t("opt.where.lower", "de"), t("button.done", "de"))
    await bot.press(greta, t("opt.feel.aching", "de"), t("button.done", "de"))
    await bot.press(greta, t("opt.symptoms.none", "de"), t("opt.warning.none", "de"))
    summary = bot.screen(greta).text
    named = [line.removeprefix("Quelle: ") for line in summary.splitlines() if "Quelle: " in line]
    german = {s.shorts["de"] for s in CATALOG.sources.values() if "de" in s.shorts}
    assert named and set(named) <= german, named
