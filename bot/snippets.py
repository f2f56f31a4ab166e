"""Choosing one or two snippets that fit a check-in (pure)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.checkin import SEVERE_PAIN, Answers
from content.loader import Snippet

MAX_SNIPPETS = 2


def answer_tags(answers: Answers) -> frozenset[str]:
    """The tags that describe these answers, in the vocabulary of content/*/snippets.yaml."""
    tags = {f"where:{w}" for w in answers.where}
    tags |= {f"feel:{f}" for f in answers.feel}
    tags |= {f"symptom:{s}" for s in answers.symptoms}
    if (answers.pain or 0) > 0:
        tags.add("pain:any")
    if (answers.pain or 0) >= SEVERE_PAIN:
        tags.add("pain:high")
    return frozenset(tags)


WEIGHTS = {"where:legs": 0.5, "where:arms": 0.6, "pain:any": 0.3, "pain:high": 0.6}
"""How much a shared tag counts. Where the pain sits and what it feels like count most; where it
spreads counts less (spreading to the legs, the commonest, least), so one side + spread to the legs
gets the one-side snippet; the bare pain bands count least."""


def _fit(tags: frozenset[str], snippet: Snippet) -> float:
    return sum(WEIGHTS.get(tag, 1.0) for tag in tags & set(snippet.tags))


def choose(
    answers: Answers,
    snippets: Sequence[Snippet],
    previous: Collection[str] = (),
    limit: int = MAX_SNIPPETS,
) -> list[Snippet]:
    """Up to ``limit`` snippets, best fit first, avoiding those shown after the last check-in.

    Fit is the weighted count of the snippet's tags that the answers have (``WEIGHTS``), so the
    most specific fit wins; ties keep the content order, so
    the same answers always give the same snippets. A snippet tagged ``general`` fits any check-in
    and fills in when too few others fit. Repeats are used only when nothing else is left.
    """
    tags = answer_tags(answers)
    scored = [
        (_fit(tags, s), index, s)
        for index, s in enumerate(snippets)
        if tags & set(s.tags) or "general" in s.tags
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    fresh = [s for _, _, s in scored if s.id not in previous]
    repeats = [s for _, _, s in scored if s.id in previous]
    chosen: list[Snippet] = []
    topics: set[str] = set()
    for snippet in fresh + repeats:
        topic = snippet.id.split(".")[0]
        # One snippet per topic family, so two tips do not say nearly the same thing.
        if topic in topics and len(fresh) > limit:
            continue
        chosen.append(snippet)
        topics.add(topic)
        if len(chosen) == limit:
            break
    return chosen
