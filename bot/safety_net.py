"""A second safety net under the free-text reader: a small text classifier that asks.

The reader's patterns (bot/free_text.py) escalate a warning sign only when its words match; on
wording nobody tuned them on they miss about one red message in ten (English) and one in seven
(German) (docs/triage-eval.md). This classifier was trained on the labelled messages the
patterns were tuned and measured on, both languages at once (spaCy's own
``textcat_multilabel``: bags of words and word n-grams, no new dependency). Where the patterns
found nothing at all in a message of at least :data:`MIN_WORDS` words, and the classifier scores
a sign at :data:`THRESHOLD` or more, that one sign (its highest) is added as *uncertain*: the bot
asks whether the person has it and whether it is new, and one tap on "Yes" gives the advice. It
never escalates by itself, never joins what the patterns read (a sign, a hedge, a denial,
someone else's sign, the past), so it cannot raise a false alarm or dilute advice, only ask.
If its model cannot be loaded or fails on a message, the patterns' reading stands alone.

The model ships as ``content/safety_net.bin.gz`` (the pipeline's bytes, gzip), rebuilt with
``python -m bot train-safety-net`` whenever the labelled sets or the settings below change; it
records a digest of both, and a test fails when that no longer matches
(tests/test_safety_net.py).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
import re
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from bot.findings import Certainty, Code, Finding

log = logging.getLogger(__name__)
_WORD = re.compile(r"[^\W\d_]+")

THRESHOLD = 0.8
"""A sign scored at least this is asked about. 0.5 (chosen on the fourth blind sets) asked about
everyday reports such as "my back hurts a lot today" (a fall, 0.6), which the full test suite
caught; 0.8 keeps the net to messages that read much like a labelled red one."""

MIN_WORDS = 5
"""Fewer words than this are not scored: too little to go on, and most such texts answer what the
bot asked for (a time, a place, a number)."""

WINDOW_WORDS = 60
"""A longer message is scored in even stretches of at most this many words, each sign at its
highest: no labelled message is longer, and the model's scores grow with length ("my back is sore
and stiff today" scores 0.36 for a fall once, 0.87 pasted twenty times)."""

TRAINED_ON = (
    "free_text_en.yaml",
    "free_text_en_holdout.yaml",
    "free_text_en_holdout2.yaml",
    "free_text_en_holdout3.yaml",
    "free_text_en_holdout4.yaml",
    "free_text_en_holdout5.yaml",
    "free_text_en_holdout6.yaml",
    "free_text_en_holdout7.yaml",
    "free_text_en_holdout8.yaml",
    "free_text_en_holdout9.yaml",
    "free_text_de.yaml",
    "free_text_de_heldout.yaml",
    "free_text_de_heldout2.yaml",
    "free_text_de_heldout3.yaml",
    "free_text_de_heldout4.yaml",
    "free_text_de_heldout5.yaml",
    "free_text_de_heldout6.yaml",
    "free_text_de_heldout7.yaml",
    "free_text_de_heldout8.yaml",
    "free_text_de_heldout9.yaml",
)
"""The labelled sets in tests/corpus the model learns from: every set the patterns were tuned on
or measured on once. The newest blind sets are never here."""

REASON = "model"
"""``Finding.reason`` of a sign only the classifier saw."""

_LENGTH = 2**18
"""Hash buckets of the bag of words (fewer lost about a tenth of the signs it found)."""
_EPOCHS = 12
_SEED = 0
_NGRAMS = 3


class PatternReader(Protocol):
    def read(self, text: str) -> tuple[Finding, ...]: ...


def _blank() -> Any:
    import spacy

    nlp = spacy.blank("xx")  # a tokenizer for any language; nothing loaded from the internet
    textcat: Any = nlp.add_pipe(
        "textcat_multilabel",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": False,
                "ngram_size": _NGRAMS,
                "no_output_layer": False,
                "length": _LENGTH,
            }
        },
    )
    for code in Code:
        textcat.add_label(code.value)
    return nlp


MODEL_FILE = "safety_net.bin.gz"


def _config() -> list[Any]:
    """What else decides the model besides its data: a change here needs retraining too."""
    from importlib.metadata import version

    return [_LENGTH, _EPOCHS, _SEED, _NGRAMS, [c.value for c in Code], version("spacy")]


def digest(items: Iterable[dict[str, Any]]) -> str:
    """What the model learns from and how, in a few hex digits: the texts, their labels and the
    training settings."""
    data = json.dumps([_config(), [[i["text"], sorted(i["expect"]), i["kind"]] for i in items]])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def training_items(corpus: Path) -> list[dict[str, Any]]:
    from bot.triage_eval import load_corpus

    return [item for name in TRAINED_ON for item in load_corpus(corpus / name)]


def _labels(item: dict[str, Any]) -> dict[str, float]:
    signs = set(item["expect"]) if item["kind"] in ("red", "uncertain") else set()
    return {code.value: float(code.value in signs) for code in Code}


def train(items: Sequence[dict[str, Any]]) -> Any:
    """A fresh pipeline trained on ``items`` (corpus items: text, expect, kind)."""
    from spacy import util
    from spacy.training import Example

    util.fix_random_seed(_SEED)  # type: ignore[attr-defined]
    nlp = _blank()
    examples = [
        Example.from_dict(nlp.make_doc(item["text"].lower()), {"cats": _labels(item)})
        for item in items
    ]
    optimizer = nlp.initialize(lambda: examples)
    order = random.Random(_SEED)  # noqa: S311 - the order of training examples, not a secret
    for _ in range(_EPOCHS):
        order.shuffle(examples)
        for batch in util.minibatch(examples, 32):  # type: ignore[no-untyped-call]
            nlp.update(batch, sgd=optimizer)
    return nlp


def save(nlp: Any, trained_digest: str, path: Path) -> None:
    header = json.dumps({"digest": trained_digest}).encode() + b"\n"
    path.write_bytes(gzip.compress(header + nlp.to_bytes(), mtime=0))


def _open(path: Path | None) -> gzip.GzipFile:
    source = path.open("rb") if path else (resources.files("content") / MODEL_FILE).open("rb")
    return gzip.GzipFile(fileobj=source)


def shipped_digest(path: Path | None = None) -> str:
    """The digest the shipped model (or the one at ``path``) was trained with."""
    with _open(path) as file:
        return str(json.loads(file.readline())["digest"])


@cache
def load(path: Path | None = None) -> Any:
    """The shipped model, read once per process (about 14 MB once loaded and the freed heap is
    given back, bot/memory.py)."""
    with _open(path) as file:
        file.readline()  # the header
        return _blank().from_bytes(file.read())


class SafetyNet:
    """The patterns' findings and, only where they found nothing at all in a message of a few
    words, a question about the one sign the classifier scores highest."""

    def __init__(self, reader: PatternReader, model: Any) -> None:
        self.reader = reader
        self.model = model

    def read(self, text: str) -> tuple[Finding, ...]:
        findings = self.reader.read(text)
        # Anything the patterns read (a sign, a hedge, a denial, someone else's, the past, a
        # supposition) stands alone: the advice or question it brings is not joined by a guess,
        # and the context they read (whose sign, when) is context the classifier cannot see.
        if findings or len(_WORD.findall(text)) < MIN_WORDS:
            return findings
        try:
            scores = self._scores(text.lower())
        except Exception as error:  # the patterns' reading stands whatever happens here
            log.error("the safety net could not score a message (%s)", type(error).__name__)
            return findings
        code, score = max(((c, scores.get(c.value, 0.0)) for c in Code), key=lambda cs: cs[1])
        if score < THRESHOLD:
            return findings
        return (Finding(code, Certainty.UNCERTAIN, reason=REASON),)

    def _scores(self, text: str) -> dict[str, float]:
        words = text.split()
        if len(words) <= WINDOW_WORDS:
            return dict(self.model(text).cats)
        parts = -(-len(words) // WINDOW_WORDS)
        size = -(-len(words) // parts)
        best: dict[str, float] = {}
        for doc in self.model.pipe(
            " ".join(words[i : i + size]) for i in range(0, len(words), size)
        ):
            for code, score in doc.cats.items():
                best[code] = max(best.get(code, 0.0), score)
        return best


def with_safety_net(reader: PatternReader, *, fresh: bool = False) -> PatternReader:
    """``reader`` with the safety net under it or, if its model cannot be loaded (a missing or
    damaged file), ``reader`` alone: the patterns must read every message whatever happens.
    ``fresh``: a model of its own rather than the process's (whose vocabulary holds every word
    it has scored)."""
    try:
        return SafetyNet(reader, load.__wrapped__() if fresh else load())
    except Exception as error:
        log.error(
            "the safety net's model could not be loaded (%s): patterns only", type(error).__name__
        )
        return reader
