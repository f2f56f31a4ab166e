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


def choose(
    answers: Answers,
    snippets: Sequence[Snippet],
    previous: Collection[str] = (),
    limit: int = MAX_SNIPPETS,
) -> list[Snippet]:
    """Up to ``limit`` snippets, best fit first, avoiding those shown after the last check-in.

    Fit is the number of the snippet's tags that the answers have; ties keep the content order, so
    the same answers always give the same snippets. A snippet tagged ``general`` fits any check-in
    and fills in when too few others fit. Repeats are used only when nothing else is left.
    """
    tags = answer_tags(answers)
    scored = [
        (len(tags & set(s.tags)), index, s)
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
