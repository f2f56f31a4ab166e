"""The classifier under the free-text reader (bot/safety_net.py): it asks about a sign only it
saw, never escalates by itself, never overrides what the patterns read, and ships trained on the
labelled sets as they are now."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot import safety_net
from bot.findings import Certainty, Code, Finding
from bot.free_text import Readers
from bot.safety_net import SafetyNet
from content.loader import default_catalog
from tests.harness import Harness, Person
from tests.test_checkin_flow import advice_messages, escalations, onboard

CORPUS = Path(__file__).parent / "corpus"
MISSED = "since this morning nothing down below feels like mine when i wipe"
"""Numbness of the saddle area, as a patient put it, that the patterns do not read (checked
below: if they come to read it, pick another such message)."""


class Reads:
    """A pattern reader that finds what it is given, whatever the text."""

    def __init__(self, *findings: Finding) -> None:
        self.findings = findings

    def read(self, text: str) -> tuple[Finding, ...]:
        return self.findings


def test_the_shipped_model_was_trained_on_the_labelled_sets_as_they_are() -> None:
    items = safety_net.training_items(CORPUS)
    assert safety_net.shipped_digest() == safety_net.digest(items), (
        "the labelled sets or the settings changed: retrain (python -m bot train-safety-net)"
    )


def test_the_newest_blind_sets_are_never_trained_on() -> None:
    """The highest-numbered held-out set of each language measures the next round once: the
    model must not have seen it (docs/triage-eval.md)."""
    blind = set()
    for pattern in ("free_text_en_holdout*.yaml", "free_text_de_heldout*.yaml"):
        numbered = {int(p.stem.rsplit("out", 1)[1] or 1): p.name for p in CORPUS.glob(pattern)}
        blind.add(numbered[max(numbered)])
    assert blind == {"free_text_en_holdout10.yaml", "free_text_de_heldout10.yaml"}
    assert not blind & set(safety_net.TRAINED_ON)


def net(*findings: Finding) -> SafetyNet:
    return SafetyNet(Reads(*findings), safety_net.load())


class GrowsWithLength:
    """A stand-in for the classifier whose score for a fall grows with the words it is given,
    as a bag-of-words model's can (the shipped model once scored "my back is sore and stiff
    today" pasted to 4,096 characters as a fall, 1.0): below the threshold up to
    WINDOW_WORDS words, certain beyond."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def _doc(self, text: str) -> Any:
        words = len(text.split())
        self.lengths.append(words)
        return SimpleNamespace(cats={"fall": 0.5 if words <= safety_net.WINDOW_WORDS else 1.0})

    def __call__(self, text: str) -> Any:
        return self._doc(text)

    def pipe(self, texts: Iterable[str]) -> list[Any]:
        return [self._doc(text) for text in texts]


def test_a_long_message_is_scored_in_stretches_as_long_as_the_labelled_ones() -> None:
    """No labelled message is longer than WINDOW_WORDS words: a longer one is scored in even
    stretches of at most that many, each sign at its highest, so its length alone is never
    read as a sign."""
    longest = ("my back is sore and stiff today " * 200)[:4096]  # as long as Telegram allows
    model = GrowsWithLength()
    assert SafetyNet(Reads(), model).read(longest) == ()
    assert len(model.lengths) > 1 and max(model.lengths) <= safety_net.WINDOW_WORDS
    assert sum(model.lengths) == len(longest.split())  # every word scored, none twice
    assert model(longest).cats["fall"] >= safety_net.THRESHOLD  # scored whole, it would ask
    assert net().read(longest) == ()  # and so does the shipped model


def test_a_sign_only_the_classifier_sees_is_asked_about_never_escalated() -> None:
    findings = net().read("can't feel the toilet paper when I wipe since monday")
    assert findings == (Finding(Code.SADDLE, Certainty.UNCERTAIN, reason=safety_net.REASON),)


def test_what_the_patterns_read_stands_alone() -> None:
    text = "can't feel the toilet paper when I wipe since monday"
    for finding in (
        Finding(Code.SADDLE, Certainty.PRESENT),  # advice: nothing milder joins it
        Finding(Code.FALL, Certainty.UNCERTAIN, reason="hedged"),  # one question, theirs
        Finding(Code.SADDLE, Certainty.EXCLUDED, reason="other_person"),  # whose sign it is
        Finding(Code.FEVER, Certainty.EXCLUDED, reason="negated"),  # context it cannot see
    ):
        assert net(finding).read(text) == (finding,)


def test_a_few_words_are_not_guessed_at() -> None:
    """Mostly answers to what the bot asked (a time, a place, a number), never a guess."""
    for text in ["Stuttgart", "New York", "10:00", "12.03.", "nothing", "ich", "warm", "walk"]:
        assert net().read(text) == ()


def test_an_ordinary_day_is_not_asked_about() -> None:
    both = SafetyNet(Readers(default_catalog().red_flag_sources), safety_net.load())
    for text in ["tired today but my back is ok", "heute ein ruhiger Tag, Rücken wie immer"]:
        assert both.read(text) == ()


def test_without_its_model_the_patterns_still_read_every_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.bin.gz"
    damaged.write_bytes(b"not a model")
    monkeypatch.setattr(safety_net, "load", lambda: safety_net.load.__wrapped__(damaged))
    patterns = Reads(Finding(Code.SADDLE, Certainty.PRESENT))
    assert safety_net.with_safety_net(patterns) is patterns

    class Broken:
        def __call__(self, text: str) -> object:
            raise RuntimeError("a fault in the model")

    assert SafetyNet(Reads(), Broken()).read("can't feel the toilet paper when I wipe") == ()


async def test_a_sign_the_patterns_miss_is_asked_about_and_one_tap_gives_the_advice(
    bot: Harness, pat: Person
) -> None:
    patterns = Readers(default_catalog().red_flag_sources)
    assert patterns.read(MISSED) == (), "the patterns now read this: pick a message they miss"
    await onboard(bot, pat)
    await bot.send(pat, MISSED)
    ask = bot.screen(pat)
    assert ask.text.startswith("Just to check I read you right: do you mean numbness around")
    assert ask.labels() == ["Yes, it's new", "No, not new"]
    assert advice_messages(bot, pat) == [] and await escalations(bot) == []
    await bot.press(pat, "Yes, it's new")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>🚨 Please call 112 now")
    assert "genitals, bottom or inner thighs" in advice
    assert [e.findings for e in await escalations(bot)] == ["saddle"]


async def test_a_guess_never_holds_up_an_answer_the_bot_asked_for(
    bot: Harness, pat: Person
) -> None:
    """Typed while the bot waits for a place: taken as the place (not found, say so), not
    turned into a question the person would meet again on every try."""
    await onboard(bot, pat)
    await bot.send(pat, "/timezone")
    await bot.press(pat, "Other (type it)")
    await bot.send(pat, MISSED)
    assert bot.api.texts_sent(pat.chat_id)[-1].startswith("I don't know the place")
    assert advice_messages(bot, pat) == [] and await escalations(bot) == []
