"""The free-text reader (medspaCy target rules + ConText), on its own and on the labelled corpus.

The corpus in tests/corpus/free_text_en.yaml is the development set the rules were written
against; tests/corpus/free_text_en_holdout.yaml was written independently and never used to tune
them. ``python -m bot triage-eval`` prints the same figures per category.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import safety_net
from bot.findings import Certainty, Code, present, uncertain
from bot.free_text import compile_patterns, normalise, reader
from bot.triage_eval import FALSE_ALARM_TARGET, SENSITIVITY_TARGET, evaluate, load_corpus

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def read():  # type: ignore[no-untyped-def]
    return reader("en").read


def test_contractions_are_spelt_out_so_one_pattern_fits_every_spelling() -> None:
    assert normalise("I CAN'T pee, I cant, I cannot, I can’t") == (
        "i can not pee, i can not, i can not, i can not"
    )


def test_compact_patterns_become_spacy_token_patterns() -> None:
    [pattern] = compile_patterns("wet|soiled myself?")
    assert pattern == [{"LOWER": {"IN": ["wet", "soiled"]}}, {"LOWER": "myself", "OP": "?"}]
    phrases = compile_patterns("numb *2 down_there|bum")
    assert {len(p) for p in phrases} == {3, 4}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("I've wet myself twice today", Code.BLADDER_BOWEL),
        ("I have no control over my bladder", Code.BLADDER_BOWEL),
        ("can't feel my bum since this morning", Code.SADDLE),
        ("my legs gave way and I can't stand", Code.CANT_WALK),
        ("shooting pain down both legs", Code.BOTH_LEGS),
        ("my face has dropped on one side and my words are slurred", Code.STROKE),
        ("crushing pain in my chest and I can't breathe", Code.CHEST),
        ("running a temperature of 38.6", Code.FEVER),
        ("slipped on the ice and landed on my back", Code.FALL),
    ],
)
def test_everyday_wording_is_found(read, text: str, code: Code) -> None:  # type: ignore[no-untyped-def]
    assert code in present(read(text))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no loss of bladder control", "negated"),
        ("my son wet the bed", "other_person"),
        ("used to wet myself years ago", "past"),
        ("what should I do if I can't pee?", "hypothetical"),
    ],
)
def test_denied_other_past_and_hypothetical_are_not_counted(  # type: ignore[no-untyped-def]
    read, text: str, reason: str
) -> None:
    findings = read(text)
    assert not present(findings)
    assert any(f.certainty is Certainty.EXCLUDED for f in findings)


def test_a_familiar_ms_hug_is_not_chest_pain_but_breathlessness_is(read) -> None:  # type: ignore[no-untyped-def]
    assert Code.CHEST not in present(read("tight band round my chest, my usual MS hug"))
    assert Code.CHEST in present(read("MS hug again but now I'm short of breath"))


def test_a_hedge_is_asked_about(read) -> None:  # type: ignore[no-untyped-def]
    findings = read("I think my bum might be a bit numb?")
    assert Code.SADDLE in uncertain(findings) and not present(findings)


def test_a_report_outweighs_a_denial_in_the_same_message(read) -> None:  # type: ignore[no-untyped-def]
    assert Code.BLADDER_BOWEL in present(read("no fever, but I wet myself this morning"))


def test_a_sign_quoted_from_someone_else_is_theirs_but_one_they_report_is_the_patients(  # type: ignore[no-untyped-def]
    read,
) -> None:
    assert Code.BOTH_LEGS not in present(read('"Both my legs are numb," says my sister'))
    assert Code.STROKE in present(read("my face is drooping on one side, says my wife"))
    german = reader("de").read
    assert Code.BLADDER_BOWEL not in present(
        german("„Ich kann seit gestern nicht mehr pinkeln“, sagt meine Schwester")
    )
    assert Code.STROKE in present(german("Lalle seit Mittag, sagt mein Mann"))


@pytest.mark.parametrize(
    ("language", "text", "code"),
    [
        ("en", "'I can't feel my legs,' I texted my husband.", Code.BOTH_LEGS),
        ("en", '"Both my legs are numb and I can\'t pee" I texted my daughter', Code.BOTH_LEGS),
        ("en", '"Both my legs are numb and I can\'t pee" I texted my daughter', Code.BLADDER_BOWEL),
        (
            "en",
            'I said "my face feels like it\'s drooping on one side" and asked my husband to look',
            Code.STROKE,
        ),
        ("de", "Ich sagte „mein Gesicht hängt links runter“ und fragte meine Tochter", Code.STROKE),
        ("en", "My MS has been stable for years, now my face is drooping on one side", Code.STROKE),
        (
            "en",
            "Been stable for years and suddenly today both legs are numb and I can't pee",
            Code.BOTH_LEGS,
        ),
        (
            "en",
            "Been stable for years and suddenly today both legs are numb and I can't pee",
            Code.BLADDER_BOWEL,
        ),
        (
            "en",
            "Everything's been the same for years, then this morning I couldn't feel my bum on the"
            " toilet",
            Code.SADDLE,
        ),
        (
            "en",
            "MS stable for years, woke up today unable to feel my bum and I've wet myself",
            Code.SADDLE,
        ),
        (
            "en",
            "MS stable for years, woke up today unable to feel my bum and I've wet myself",
            Code.BLADDER_BOWEL,
        ),
        (
            "de",
            "Ich habe seit 2015 MS und seit heute früh hängt mein Gesicht links und ich lalle",
            Code.STROKE,
        ),
        (
            "de",
            "Seit 2019 MS, heute sind beide Beine taub und ich kann nicht pinkeln",
            Code.BOTH_LEGS,
        ),
        (
            "de",
            "Seit 2019 MS, heute sind beide Beine taub und ich kann nicht pinkeln",
            Code.BLADDER_BOWEL,
        ),
        ("de", "Ich habe seit 2015 MS, heute bin ich gestürzt und komme nicht hoch", Code.FALL),
        ("en", "My bum is numb and I have tingles down my back into my legs", Code.SADDLE),
        ("en", "Tingles up my back and my groin is numb", Code.SADDLE),
        ("en", "Numb bum and tingles down my back and legs since this morning", Code.SADDLE),
        ("en", "Both legs numb and I'm dead on my feet", Code.BOTH_LEGS),
    ],
)
def test_a_sign_beside_a_quote_a_stable_history_or_an_idiom_is_still_read(
    language: str, text: str, code: Code
) -> None:
    assert code in present(reader(language).read(text))


def test_a_quote_of_someone_else_and_everyday_phrases_stay_quiet() -> None:
    english = reader("en").read
    assert Code.BOTH_LEGS not in present(english("'Both my legs are numb,' says my sister"))
    for text in [
        "I'm dead on my feet after the wedding",
        "Used my wheelchair today just to get round the garden centre, lovely day",
        "Sore under my boobs from the underwire",
        "My period leaked through my jeans at work",
        "I'm not having any erection trouble",
    ]:
        assert not present(english(text)), text
    german = reader("de").read
    assert not present(german("Im Keller ist Wasser ausgelaufen, Waschmaschine kaputt"))


def test_the_development_corpus_meets_the_targets(read) -> None:  # type: ignore[no-untyped-def]
    report = evaluate(reader("en"), load_corpus(CORPUS / "free_text_en.yaml"))
    assert report.sensitivity >= SENSITIVITY_TARGET, report.misses
    assert report.false_alarm_rate <= FALSE_ALARM_TARGET, report.false_alarms


TUNED = safety_net.TRAINED_ON
"""Every set the terms were tuned on: the development sets, and each held-out set once it was
measured blind and its misses guided the next round. The newest blind sets are not here on
purpose: asserting them would invite tuning on them (docs/triage-eval.md)."""


@pytest.fixture(scope="module")
def as_the_bot_reads():  # type: ignore[no-untyped-def]
    from bot.free_text import Readers
    from content.loader import default_catalog

    return Readers(default_catalog().red_flag_sources)


@pytest.mark.parametrize("name", TUNED)
def test_every_set_the_terms_were_tuned_on_still_meets_the_targets(  # type: ignore[no-untyped-def]
    as_the_bot_reads, name: str
) -> None:
    """Read as the bot reads (every language's terms at once), so a term added for one language
    that raises a false alarm in the other fails here."""
    report = evaluate(as_the_bot_reads, load_corpus(CORPUS / name))
    assert report.sensitivity >= SENSITIVITY_TARGET, report.misses
    assert report.false_alarm_rate <= FALSE_ALARM_TARGET, report.false_alarms


def test_the_corpus_is_large_and_covers_every_category() -> None:
    items = load_corpus(CORPUS / "free_text_en.yaml")
    assert len(items) >= 400
    for code in Code:
        assert sum(code.value in i["expect"] for i in items if i["kind"] == "red") >= 30, code
    kinds = {i["kind"] for i in items}
    assert {"negated", "other_person", "past", "hypothetical", "harmless", "uncertain"} <= kinds


def test_rules_shared_among_several_matchers_find_what_one_matcher_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target rules are split among several matchers so that a reader builds in seconds
    (bot/free_text.py, TextReader); every message of the German development set is read the
    same as by a reader with all the rules in one matcher."""
    from bot import free_text

    items = load_corpus(CORPUS / "free_text_de.yaml")
    shared = free_text.TextReader(free_text.load_terms("de"))
    monkeypatch.setattr(free_text, "_RULES_PER_MATCHER", 10**9)
    single = free_text.TextReader(free_text.load_terms("de"))
    assert len(shared._target_matchers) > 1 and len(single._target_matchers) == 1
    for item in items:
        assert shared.read(item["text"]) == single.read(item["text"]), item["text"]
