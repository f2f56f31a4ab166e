"""The classifier under the free-text reader (bot/safety_net.py): it asks about a sign only it
saw, never escalates by itself, never overrides what the patterns read, and ships trained on the
labelled sets as they are now."""

from __future__ import annotations

from pathlib import Path

from bot import safety_net
from bot.findings import Certainty, Code, Finding, present, uncertain
from bot.free_text import Readers
from bot.safety_net import SafetyNet
from bot.triage_eval import load_corpus
from content.loader import default_catalog
from tests.harness import Harness, Person
from tests.test_checkin_flow import advice_messages, escalations, onboard

CORPUS = Path(__file__).parent / "corpus"
MISSED = "the toilet paper feels like nothing down there since monday"
"""Numbness of the saddle area, as a patient put it, that the patterns do not read (checked
below: if they come to read it, pick another such message)."""


class Reads:
    """A pattern reader that finds what it is given, whatever the text."""

    def __init__(self, *findings: Finding) -> None:
        self.findings = findings

    def read(self, text: str) -> tuple[Finding, ...]:
        return self.findings


def test_the_shipped_model_was_trained_on_the_labelled_sets_as_they_are() -> None:
    items = [item for name in safety_net.TRAINED_ON for item in load_corpus(CORPUS / name)]
    assert safety_net.trained_digest() == safety_net.digest(items), (
        "a labelled set changed: retrain with `python -m bot train-safety-net`"
    )


def test_the_newest_blind_sets_are_never_trained_on() -> None:
    blind = {"free_text_en_holdout5.yaml", "free_text_de_heldout5.yaml"}
    assert all((CORPUS / name).is_file() for name in blind)
    assert not blind & set(safety_net.TRAINED_ON)


def test_a_sign_only_the_classifier_sees_is_asked_about_never_escalated() -> None:
    findings = SafetyNet(Reads()).read("can't feel the toilet paper when I wipe since monday")
    assert not present(findings)
    assert Code.SADDLE in uncertain(findings)
    assert {f.reason for f in findings} == {safety_net.REASON}


def test_what_the_patterns_read_stands() -> None:
    denied = Finding(Code.FEVER, Certainty.EXCLUDED, reason="negated")
    findings = SafetyNet(Reads(denied)).read("no fever, no chills, temperature normal")
    assert findings == (denied,)  # a denial is not turned into a question
    sure = Finding(Code.SADDLE, Certainty.PRESENT)
    findings = SafetyNet(Reads(sure)).read("can't feel the toilet paper when I wipe")
    assert findings == (sure,)  # nothing milder is added to a sign already present


def test_an_ordinary_day_is_not_asked_about() -> None:
    net = SafetyNet(Readers(default_catalog().red_flag_sources))
    for text in ["tired today but my back is ok", "heute ein ruhiger Tag, Rücken wie immer"]:
        assert net.read(text) == ()


async def test_a_sign_the_patterns_miss_is_asked_about_and_one_tap_gives_the_advice(
    bot: Harness, pat: Person
) -> None:
    patterns = Readers(default_catalog().red_flag_sources)
    assert patterns.read(MISSED) == (), "the patterns now read this: pick a message they miss"
    await onboard(bot, pat)
    await bot.send(pat, MISSED)
    ask = bot.screen(pat)
    assert "Is this new since your last check-in?" in ask.text
    assert ask.labels() == ["Yes, it's new", "No, not new"]
    assert advice_messages(bot, pat) == [] and await escalations(bot) == []
    await bot.press(pat, "Yes, it's new")
    [advice] = advice_messages(bot, pat)
    assert advice.startswith("<b>🚨 Please call 112 now")
    assert "genitals, bottom or inner thighs" in advice
    assert [e.findings for e in await escalations(bot)] == ["saddle"]
