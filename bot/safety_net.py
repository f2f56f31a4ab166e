"""A second safety net under the free-text reader: a small text classifier that asks.

The reader's patterns (bot/free_text.py) escalate a warning sign only when its words match; on
wording nobody tuned them on they miss about one red message in five (English) and one in three
(German) (docs/triage-eval.md). This classifier was trained on the same labelled messages the
patterns were tuned on, both languages at once (spaCy's own ``textcat_multilabel``, bags of words
and word n-grams, no new dependency). Where it scores a sign at :data:`THRESHOLD` or more and the
patterns found nothing at all about that sign (not present, not hedged, not denied or someone
else's), the sign is added as *uncertain*: the bot asks "Is this new since your last check-in?",
and one tap on "Yes" gives the advice. It never escalates by itself, and it never overrides a
denial the patterns read ("no fever"), so it cannot raise a false alarm, only a question.

The model ships as ``content/safety_net.bin.gz`` (the pipeline's bytes, gzip), rebuilt with
``python -m bot train-safety-net`` whenever the labelled sets change; it records a digest of
what it was trained on, and a test fails when that no longer matches (tests/test_safety_net.py).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from bot.findings import Certainty, Code, Finding

THRESHOLD = 0.4
"""A sign scored at least this is asked about: chosen on blind sets that neither the patterns nor
the classifier had seen, where it asked about a tenth of the red messages the patterns missed
for two or three more questions per hundred harmless messages (docs/triage-eval.md, fifth
round)."""

TRAINED_ON = (
    "free_text_en.yaml",
    "free_text_en_holdout.yaml",
    "free_text_en_holdout2.yaml",
    "free_text_en_holdout3.yaml",
    "free_text_en_holdout4.yaml",
    "free_text_de.yaml",
    "free_text_de_heldout.yaml",
    "free_text_de_heldout2.yaml",
    "free_text_de_heldout3.yaml",
    "free_text_de_heldout4.yaml",
)
"""The labelled sets in tests/corpus the model learns from: every set the patterns were tuned on
or measured on once. The newest blind sets are never here."""

REASON = "model"
"""``Finding.reason`` of a sign only the classifier saw."""

_LENGTH = 2**18
"""Hash buckets of the bag of words (fewer lost about a tenth of the signs it found)."""
_EPOCHS = 12
_SEED = 0


class Reader(Protocol):
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
                "ngram_size": 3,
                "no_output_layer": False,
                "length": _LENGTH,
            }
        },
    )
    for code in Code:
        textcat.add_label(code.value)
    return nlp


def model_path() -> Path:
    return Path(str(resources.files("content") / "safety_net.bin.gz"))


def digest(items: Iterable[dict[str, Any]]) -> str:
    """What the model learns from, in a few hex digits: the texts and their labels."""
    data = json.dumps([[i["text"], sorted(i["expect"]), i["kind"]] for i in items])
    return hashlib.sha256(data.encode()).hexdigest()[:16]


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


def save(nlp: Any, trained_on: str, path: Path) -> None:
    header = json.dumps({"digest": trained_on}).encode() + b"\n"
    path.write_bytes(gzip.compress(header + nlp.to_bytes(), mtime=0))


def trained_digest(path: Path | None = None) -> str:
    with gzip.open(path or model_path()) as file:
        return str(json.loads(file.readline())["digest"])


@cache
def load(path: Path | None = None) -> Any:
    """The shipped model, read once per process (about 12 MB in memory)."""
    with gzip.open(path or model_path()) as file:
        file.readline()  # the header
        return _blank().from_bytes(file.read())


class SafetyNet:
    """The patterns' findings, and a question about any sign only the classifier saw."""

    def __init__(self, reader: Reader, model: Any | None = None) -> None:
        self.reader = reader
        self.model = model if model is not None else load()

    def read(self, text: str) -> tuple[Finding, ...]:
        findings = self.reader.read(text)
        seen = {f.code for f in findings}
        scores = self.model(text.lower()).cats
        extra = tuple(
            Finding(code, Certainty.UNCERTAIN, reason=REASON)
            for code in Code
            if code not in seen and scores.get(code.value, 0.0) >= THRESHOLD
        )
        return findings + extra
