"""The content catalogue: complete, sourced, readable, short, and written anew."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import textstat

from bot.checkin import Answers, Engine, Step
from bot.checkin_service import Summary
from bot.findings import Code
from bot.snippets import choose
from bot.triage import RULES
from content.loader import ContentError, default_catalog, load_catalog
from handlers import views

CATALOG = default_catalog()
SNIPPETS = CATALOG.snippets_for("en")
MAX_GRADE = 8.0
TELEGRAM_TEXT_LIMIT = 4096

REQUIRED_TOPICS = {
    # each location in the source
    "where.upper", "where.middle", "where.lower", "where.one_side", "where.widespread",
    # features, spasms and posture
    "feel.neuropathic", "symptom.spasms", "posture",
    # each family of treatment
    "treat.medicines", "treat.physio", "treat.posture", "treat.dmt", "treat.complementary",
    # when to see a doctor
    "see_doctor",
}  # fmt: skip


def test_every_required_topic_has_a_snippet() -> None:
    assert {s.id for s in SNIPPETS} >= REQUIRED_TOPICS


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_snippet_reads_at_grade_eight_or_lower(snippet) -> None:  # type: ignore[no-untyped-def]
    textstat.set_lang("en")
    assert textstat.flesch_kincaid_grade(snippet.text) <= MAX_GRADE


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.id)
def test_snippet_names_a_known_source(snippet) -> None:  # type: ignore[no-untyped-def]
    assert snippet.source in CATALOG.sources


def test_the_longest_summary_fits_one_telegram_message() -> None:
    engine = Engine(CATALOG.questionnaire)
    longest = tuple(sorted(SNIPPETS, key=lambda s: len(s.text))[-2:])
    everything = Answers(
        pain=10,
        where=frozenset(engine.options(Step.WHERE)),
        feel=frozenset(engine.options(Step.FEEL)),
        symptoms=frozenset(engine.options(Step.SYMPTOMS)),
    )
    text, _ = views.summary(CATALOG, engine, "en", Summary(1, everything, longest))
    assert len(text) <= TELEGRAM_TEXT_LIMIT


def test_a_snippet_names_its_source_in_the_snippets_language() -> None:
    """A German patient reads "Quelle: MS Trust: Schmerzen", not an English title."""
    for language, snippets in CATALOG.snippets.items():
        for snippet in snippets:
            if language != "en":
                assert language in CATALOG.sources[snippet.source].shorts, snippet.source


def test_every_message_names_a_known_source() -> None:
    for message_id, message in CATALOG.messages["en"].items():
        assert message.source in CATALOG.sources, message_id


def test_snippet_choice_fits_the_answers_and_avoids_last_time() -> None:
    lower = Answers(pain=5, where=frozenset({"lower", "legs"}), feel=frozenset({"burning"}))
    first = choose(lower, SNIPPETS)
    assert first[0].id == "where.lower"
    assert len(first) == 2
    second = choose(lower, SNIPPETS, previous=[s.id for s in first])
    assert not {s.id for s in first} & {s.id for s in second}
    assert choose(lower, SNIPPETS) == first  # deterministic


def test_snippet_choice_for_no_pain_uses_general_snippets() -> None:
    chosen = choose(Answers(pain=0), SNIPPETS)
    assert chosen and all("general" in s.tags for s in chosen)


def test_broken_content_is_refused_with_the_file_named(tmp_path: Path) -> None:
    # A copy of everything the loader may read, with one question text renamed away.
    root = Path(__file__).parents[1] / "content"
    copy = tmp_path / "content"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    assert load_catalog(copy) is not None  # type: ignore[arg-type]  # the copy itself is sound
    messages = (copy / "en" / "messages.yaml").read_text()
    assert "q.warning:" in messages
    (copy / "en" / "messages.yaml").write_text(messages.replace("q.warning:", "q.other:"))
    with pytest.raises(ContentError, match=r"en/messages\.yaml.*q\.warning"):
        load_catalog(copy)  # type: ignore[arg-type]


WHERE = ("upper", "middle", "lower", "side_left", "side_right", "widespread", "legs", "arms")
FEEL = ("burning", "tingling", "electric", "band", "aching", "cramping", "hard_to_say")


def test_the_fit_table_covers_every_option() -> None:
    engine = Engine(CATALOG.questionnaire)
    assert set(engine.options(Step.WHERE)) == set(WHERE)
    assert set(engine.options(Step.FEEL)) == set(FEEL)


@pytest.mark.parametrize("spread", [False, True], ids=["alone", "with_legs"])
@pytest.mark.parametrize(
    ("step", "option"), [("where", o) for o in WHERE] + [("feel", o) for o in FEEL]
)
def test_the_most_specific_snippet_comes_first(step: str, option: str, spread: bool) -> None:
    """A place or a feeling, alone or with pain spreading to the legs: the first tip is about
    that place or feeling (a tip about the spread may follow, never lead)."""
    where = {option} if step == "where" else set()
    feel = {option} if step == "feel" else set()
    if spread:
        where.add("legs")
    answers = Answers(pain=5, where=frozenset(where), feel=frozenset(feel))
    first = choose(answers, SNIPPETS)[0]
    assert f"{step}:{option}" in first.tags, (
        f"{sorted(where)} / {sorted(feel)}: first snippet {first.id} {first.tags}"
    )


def test_every_warning_sign_and_rule_has_its_words() -> None:
    """Each warning sign has a "you told me" line; each rule says why, and a rule that is not
    about a warning sign says what it is about."""
    for code in Code:
        assert CATALOG.has_text(f"what.{code.value}"), code
    for rule in RULES:
        assert CATALOG.has_text(f"why.{rule.id}"), rule.id
        if not rule.codes:
            assert CATALOG.has_text(f"what.{rule.id}"), rule.id
        assert rule.source in CATALOG.sources, rule.id
    for tier in ("emergency", "urgent", "soon"):
        assert CATALOG.has_text(f"tier.{tier}.head") and CATALOG.has_text(f"alert.{tier}")


SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "ms-back-pain-article.txt"


@pytest.mark.skipif(not SEED.is_file(), reason="the source article is not beside this checkout")
def test_content_does_not_copy_the_source_article() -> None:
    words = re.findall(r"[a-z']+", SEED.read_text().lower())
    runs = {" ".join(words[i : i + 9]) for i in range(len(words) - 8)}
    for path in (Path(__file__).parents[1] / "content").rglob("*.yaml"):
        text = re.findall(r"[a-z']+", path.read_text().lower())
        copied = [" ".join(text[i : i + 9]) for i in range(len(text) - 8)]
        assert not runs.intersection(copied), path.name


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).resolve().parent.parent / "content").rglob("*.yaml")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_fast_yaml_loader_reads_every_content_file_as_pyyaml_does(path: Path) -> None:
    import yaml

    from content.yamlfile import parse_yaml

    text = path.read_text(encoding="utf-8")
    assert parse_yaml(text) == yaml.load(text, Loader=yaml.SafeLoader)
