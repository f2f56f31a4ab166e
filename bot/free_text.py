"""Reading warning signs in what a patient types, with medspaCy.

What to find is content: ``content/<lang>/red_flag_terms.yaml`` holds medspaCy ``TargetRule``
token patterns per warning sign (so inflections, synonyms and everyday words are data) and the
ConText rules that modify a finding (denied, someone else's, in the past, hypothetical, hedged).
The library applies the modifiers and their scope; this module only maps its output to findings.

Patient text is health data: nothing here logs it, and medspaCy's own sentence splitter (which
logs every token through loguru) is not used; spaCy's rule-based sentencizer is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, partial
from importlib import resources
from typing import Any

from bot.findings import Certainty, Code, Finding
from content.yamlfile import parse_yaml

# Extra labels the terms file may use besides the finding codes.
CHEST_PAIN = "chest_pain"
BREATHLESS = "breathless"
MS_HUG = "ms_hug"
CHEST_ALARM = "chest_alarm"
"""Sweating, sickness, faintness, pain into the jaw or arm: chest pain with these counts even when
the patient also mentions their MS hug."""
LOOK_ALIKE = "look_alike"
"""Everyday phrases that contain a sign's words ("fell asleep", "couldn't stand that film"): any
match they overlap is dropped."""
HELPER_LABELS = frozenset({CHEST_PAIN, BREATHLESS, MS_HUG, CHEST_ALARM, LOOK_ALIKE})

_CONTRACTIONS = (
    (r"\b(can ?no?t|can'?t|carn'?t|cnt|cannae)\b", "can not"),
    (r"\b(could ?n'?t|cudnt|couldnt)\b", "could not"),
    (r"\b(wo ?n'?t)\b", "will not"),
    (r"\b(would ?n'?t)\b", "would not"),
    (r"\b(do ?n'?t)\b", "do not"),
    (r"\b(does ?n'?t)\b", "does not"),
    (r"\b(did ?n'?t)\b", "did not"),
    (r"\b(is ?n'?t)\b", "is not"),
    (r"\b(was ?n'?t)\b", "was not"),
    (r"\b(are ?n'?t)\b", "are not"),
    (r"\b(were ?n'?t)\b", "were not"),
    (r"\b(have ?n'?t)\b", "have not"),
    (r"\b(has ?n'?t)\b", "has not"),
    (r"\b(had ?n'?t)\b", "had not"),
    (r"\b(should ?n'?t)\b", "should not"),
    (r"\b(ai ?n'?t)\b", "is not"),
    (r"\b(p|w)ee'd\b", r"\1eed"),
    (r"\bpoo'd\b", "pooed"),
    (r"\bi'?m\b", "i am"),
    (r"\bi'?ve\b", "i have"),
    (r"\bi'll\b", "i will"),
    (r"\bit'?s\b", "it is"),
    (r"\b(that|there|what)'?s\b", r"\1 is"),
    (r"\b(they|you|we)'re\b", r"\1 are"),
    (r"\btheyre\b", "they are"),
    (r"\b(\w+)'s\b", r"\1 s"),
    # "dead on my feet", "asleep on my feet": worn out, so "dead" is not read as numb, while a sign
    # beside it still is ("both legs numb and I'm dead on my feet"; a look-alike would cancel it)
    (r"\b(dead|asleep) on (my|our|his|her|their|your) feet\b", r"worn out on \2 feet"),
)
_COMPILED = tuple((re.compile(p), r) for p, r in _CONTRACTIONS)


_DE_CONTRACTIONS = (
    (r"([!?]+|\.\.+)(?=[^\W\d_])", r"\1 "),  # "gestürzt!!!kann" -> "gestürzt!!! kann"
    (r"\b(li|re|bds)\.(?=\s)", lambda m: {"li": "links", "re": "rechts", "bds": "beidseits"}[m[1]]),
    (r"\b(\w+)'s\b", r"\1 es"),  # "hab's", "geht's" -> "hab es", "geht es"
    # dialect articles written onto their noun: "d'hosn", "d'frau", "s'knie" -> "d hosn", ...
    (r"\b([ds])'(?=[^\W\d_])", r"\1 "),
    (r"\b(so|wie)'n\b", r"\1 ein"),  # "so'n taubes gefühl", "wie'n betrunkener"
)


def normalise(text: str, language: str = "en") -> str:
    """Lower case, straight apostrophes, and contractions spelt out ("can't" -> "can not"), so
    patterns need one spelling of each negation. German also folds umlauts (``FOLDS``): "Gefühl"
    and "Gefuehl" are both "gefuehl"; "ß" stays."""
    if language != "en":
        text = unicodedata.normalize("NFC", text)
    lowered = text.lower().replace("’", "'").replace("`", "'")
    for letter, spelling in FOLDS.get(language, ()):
        lowered = lowered.replace(letter, spelling)
    for pattern, replacement in _CONTRACTIONS_BY_LANGUAGE.get(language, ()):
        lowered = pattern.sub(replacement, lowered)
    return lowered


_CONTRACTIONS_BY_LANGUAGE: dict[str, tuple[tuple[re.Pattern[str], Any], ...]] = {
    "en": _COMPILED,
    "de": tuple((re.compile(p), r) for p, r in _DE_CONTRACTIONS),
}
FOLDS: dict[str, tuple[tuple[str, str], ...]] = {
    "de": (("ä", "ae"), ("ö", "oe"), ("ü", "ue")),
}
"""Letters a language spells one way in text and terms alike."""
PLAIN: dict[str, tuple[tuple[str, str], ...]] = {
    "de": (("ä", "a"), ("ö", "o"), ("ü", "u"), ("ß", "ss")),
}
"""Other spellings that a word of the terms file written with these letters also matches (typed
without umlauts: "fuhle", "fusse"). A word written without them ("wuerde") matches only itself."""


MAX_EXPANSIONS = 1024
GAP_STOPS = ("not", "no", "never", "nor", "but", ".", "!", "?", ";", ",")
"""Words a ``*N`` gap never skips: "legs * numb" must not match "legs are not numb", and a
pattern must not run on from one clause into the next (and swallow its "long gone")."""
GAP_STOPS_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "en": GAP_STOPS,
    "de": (
        *("nicht", "nich", "net", "ned", "nit", "noed", "nimmer", "nie", "niemals", "weder"),
        *("kein", "keine", "keinen", "keinem", "keiner", "keines", "keins", "koa", "koan"),
        # Not "ohne": "ohne Grund" makes a sign more worrying, not less (negation has its rule).
        *("kee", "keen", "keene", "aber", "doch", "sondern", "jedoch"),
        # Negations as thumbs on a phone type them: a gap must not skip them either.
        *("nciht", "nicth", "nichz", "nihct", "kien", "kiene", "keien"),
        *(".", "!", "?", ";", ",", ":"),
    ),
}


PAST_MARK = "red_flag_past"
"""A token attribute, set before the warning signs are matched on the words that a modifier rule
marked ``stops_gaps`` finds (times in the past: "vor jahren", "2019", "used to"): a ``*N`` gap of
a warning sign never skips them, or "meine beine waren vor jahren taub" would be one match that
swallows, and so silences, its own "vor jahren". Not when a CURRENT word comes just before
("seit dem letzten schub", "since my last relapse"), nor where a longer modifier overlaps them."""

_WORD_CLASS = re.compile(r"@(\w+)")


def compile_patterns(
    spec: str,
    words: Mapping[str, str] | None = None,
    gap_stops: Iterable[str] = GAP_STOPS,
    past_stops: bool = False,
) -> list[list[dict[str, Any]]]:
    """A pattern written compactly in the terms file, as spaCy token patterns:

    ``a|b`` one word, any of these; ``no_feeling`` (words joined by ``_``) a phrase among the
    choices; ``re:^pee`` one word matching the regex; a trailing ``?`` makes the slot optional;
    a leading ``^`` means the slot starts a sentence; ``@name`` stands for the word class
    ``name`` of the terms file (``words``); ``*N`` skips up to N words, but never a negation,
    "but" or a comma (``gap_stops``, by default ``GAP_STOPS``), nor, with ``past_stops``, a word
    marked ``PAST_MARK``. Phrases expand into one pattern each.
    """
    for _ in range(5):
        expanded = _WORD_CLASS.sub(lambda m: _word_class(m.group(1), words), spec)
        if expanded == spec:
            break
        spec = expanded
    patterns: list[list[dict[str, Any]]] = [[]]
    for part in spec.split():
        if part.startswith("*") and part[1:].isdigit():
            gap: dict[str, Any] = {"LOWER": {"NOT_IN": list(gap_stops)}}
            if past_stops:
                gap["_"] = {PAST_MARK: False}
            gap["OP"] = f"{{0,{int(part[1:])}}}"
            for pattern in patterns:
                pattern.append(dict(gap))
            continue
        sentence_start = part.startswith("^") and len(part) > 1
        part = part[1:] if sentence_start else part
        optional = part.endswith("?") and len(part) > 1
        word = part[:-1] if optional else part
        if word.startswith("re:"):
            slots: list[list[dict[str, Any]]] = [[{"LOWER": {"REGEX": word[3:]}}]]
        else:
            slots = [
                [{"LOWER": {"IN": ws}} if len(ws) > 1 else {"LOWER": ws[0]} for ws in phrase]
                for phrase in _merge_phrases([c.split("_") for c in word.split("|")])
            ]
        if sentence_start:
            slots = [[{**slot[0], "IS_SENT_START": True}, *slot[1:]] for slot in slots]
        if optional and len(slots) == 1 and len(slots[0]) == 1:
            slots = [[{**slots[0][0], "OP": "?"}]]
        elif optional:
            slots.append([])
        patterns = [pattern + slot for pattern in patterns for slot in slots]
        if len(patterns) > MAX_EXPANSIONS:
            raise ValueError(f"pattern expands too far: {spec!r}")
    return [p for p in patterns if p]


def _merge_phrases(phrases: list[list[str]]) -> list[list[list[str]]]:
    """Phrases of one length that differ in one word only become one token pattern ("can not",
    "could not" -> [can|could] [not]), so that the matcher has fewer patterns to try. Exact: a
    phrase joins a group only where every other word of the group is a single word."""
    merged: list[list[list[str]]] = []
    for phrase in phrases:
        for group in merged:
            if len(group) != len(phrase):
                continue
            differ = [i for i, ws in enumerate(group) if phrase[i] not in ws]
            if not differ:
                break
            i = differ[0]
            if len(differ) == 1 and all(len(ws) == 1 for j, ws in enumerate(group) if j != i):
                group[i].append(phrase[i])
                break
        else:
            merged.append([[w] for w in phrase])
    return merged


def _word_class(name: str, words: Mapping[str, str] | None) -> str:
    if not words or name not in words:
        raise ValueError(f"unknown word class @{name}")
    return words[name]


@dataclass(frozen=True)
class Terms:
    """The parsed terms file of one language."""

    language: str
    source: str
    targets: dict[str, tuple[str, ...]]
    modifiers: tuple[dict[str, Any], ...]
    words: dict[str, str] = field(default_factory=dict)
    """Named word classes (``@name`` in a pattern)."""
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per warning sign, looser patterns of a cue ("my waterworks feel odd"): when one matches,
    is not excluded, and no full pattern of that sign did, the sign is asked about (UNCERTAIN)."""
    spellings: dict[str, str] = field(default_factory=dict)
    """Words as people also type them (dialect: "nimma", "koa") -> the words the patterns are
    written with ("nicht mehr", "kein"), both as ``normalise`` spells text."""
    for_someone: tuple[str, ...] = ()
    """Patterns by which a message says someone types it for the patient ("daughter typing for
    Jean: she says she can't ..."): in such a message the person named there, or "she" where
    nobody else is named, is the patient (:class:`TypedFor`)."""
    as_patient: dict[str, str] = field(default_factory=dict)
    """In a message typed for the patient, words for the patient ("she", "her", "she is") -> the
    patient's own ("I", "my", "I am"): such a message is also read with them replaced."""


def spell(spec: str, language: str) -> str:
    """A pattern of the terms file with its words spelt as ``normalise`` spells text: letters
    folded (``FOLDS``), and every word written with a letter of ``PLAIN`` also in its plain
    spellings ("fühle" -> "fuehle|fuehle|fuhle"). Regexes are folded only."""
    folds, plain = FOLDS.get(language, ()), PLAIN.get(language, ())
    if not folds and not plain:
        return spec

    def fold(word: str, table: Iterable[tuple[str, str]]) -> str:
        for letter, spelling in table:
            word = word.replace(letter, spelling)
        return word

    def spellings(choice: str) -> list[str]:
        if choice.startswith("@") or not any(letter in choice for letter, _ in plain):
            return [fold(choice, folds)]
        sharp = [(k, v) for k, v in plain if k == "ß"]
        umlauts = [(k, v) for k, v in plain if k != "ß"]
        found = [fold(choice, table) for table in (folds, umlauts, [*folds, *sharp], plain)]
        return list(dict.fromkeys(found))

    parts = []
    for part in spec.split():
        start = "^" if part.startswith("^") and len(part) > 1 else ""
        body = part[len(start) :]
        end = "?" if body.endswith("?") and len(body) > 1 else ""
        body = body[: len(body) - len(end)]
        if body.startswith("re:") or (body.startswith("*") and body[1:].isdigit()):
            parts.append(start + fold(body, folds) + end)
        else:
            choices = [s for c in body.split("|") for s in spellings(c)]
            parts.append(start + "|".join(dict.fromkeys(choices)) + end)
    return " ".join(parts)


def load_terms(language: str = "en") -> Terms:
    path = resources.files("content") / language / "red_flag_terms.yaml"
    raw = parse_yaml(path.read_text(encoding="utf-8"))
    if language in FOLDS or language in PLAIN:
        raw = _spelt(raw, language)
    targets = {str(k): tuple(v) for k, v in raw["targets"].items()}
    unknown = set(targets) - {c.value for c in Code} - HELPER_LABELS
    if unknown:
        raise ValueError(f"content/{language}/red_flag_terms.yaml: unknown labels {unknown}")
    words = {str(k): " ".join(str(v).split()) for k, v in (raw.get("words") or {}).items()}
    cues = {str(k): tuple(v) for k, v in (raw.get("cues") or {}).items()}
    unknown = set(cues) - {c.value for c in Code}
    if unknown:
        raise ValueError(f"content/{language}/red_flag_terms.yaml: unknown cue labels {unknown}")
    spellings = _spellings(raw.get("spellings") or {}, language)
    typed_for = raw.get("for_someone") or {}
    for_someone = tuple(str(s) for s in typed_for.get("said_by") or ())
    as_patient = {
        normalise(str(k), language): normalise(str(v), language)
        for k, v in (typed_for.get("as_patient") or {}).items()
    }
    return Terms(
        language,
        str(raw["source"]),
        targets,
        tuple(raw["modifiers"]),
        words,
        cues,
        spellings,
        for_someone,
        as_patient,
    )


def _spellings(raw: Mapping[str, Any], language: str) -> dict[str, str]:
    """The ``spellings`` section of a terms file (each standard spelling with the ways people
    type it, ``a|b``) as a map from each way to the standard spelling, letters folded as
    ``normalise`` folds them (``FOLDS``; a plain spelling is not added: "nüme" is "not any more"
    but "nume" is "only")."""
    folds = FOLDS.get(language, ())

    def fold(word: str) -> str:
        for letter, spelling in folds:
            word = word.replace(letter, spelling)
        return word.lower()

    result: dict[str, str] = {}
    for standard, ways in raw.items():
        for way in str(ways).split("|"):
            way = way.strip()
            if not way or " " in way:
                raise ValueError(f"content/{language}/red_flag_terms.yaml: spelling {way!r}")
            result[fold(way)] = fold(str(standard))
    return result


def _respeller(spellings: Mapping[str, str]) -> Callable[[str], str]:
    """A function that writes every word of ``spellings`` in a text as its standard spelling."""
    ways = sorted(spellings, key=len, reverse=True)
    found = re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, ways)) + r")(?![\w'])")

    def respell(text: str) -> str:
        return found.sub(lambda m: spellings[m[1]], text) if spellings else text

    return respell


def _spelt(raw: dict[str, Any], language: str) -> dict[str, Any]:
    """The terms file with every pattern spelt as the language's text is (``spell``)."""
    raw = dict(raw)
    for section in ("targets", "cues"):
        raw[section] = {
            k: [spell(str(s), language) for s in v] for k, v in (raw.get(section) or {}).items()
        }
    raw["words"] = {
        k: spell(" ".join(str(v).split()), language) for k, v in (raw.get("words") or {}).items()
    }
    raw["modifiers"] = [
        {**rule, "pattern": spell(rule.get("pattern", rule["literal"].replace(" ", "_")), language)}
        for rule in raw["modifiers"]
    ]
    typed_for = dict(raw.get("for_someone") or {})
    typed_for["said_by"] = [spell(str(s), language) for s in typed_for.get("said_by") or ()]
    raw["for_someone"] = typed_for
    return raw


_EXCLUDING = {
    "NEGATED_EXISTENCE": "negated",
    "FAMILY": "other_person",
    "HISTORICAL": "past",
    "HYPOTHETICAL": "hypothetical",
}


_SPANS = "red_flags"
"""The span group the target matcher writes to and ConText reads: a group rather than
``doc.ents`` so that two signs may overlap ("legs went from under me" is a fall and can't-walk)."""
_CUES = "red_flag_cues"
_TARGET_MATCHER = "medspacy_target_matcher"
_RULES_PER_MATCHER = 1000
"""Rules per target matcher (see ``TextReader``): fewer makes building faster and reading a
little slower, as each matcher walks the message once."""
_CUE_PREFIX = "cue:"
"""Cue matches are labelled ``cue:<sign>`` and found by a second target matcher (span group
``_CUES``), read by ConText in a second pass only when a cue names a sign not already found, so a
cue never changes how a full pattern is read (ConText drops a modifier that overlaps a target)."""
_FOR_SOMEONE = "red_flag_for_someone"
"""Set in a message's ``Doc.user_data`` when it says it is typed for the patient by someone else
(``Terms.for_someone``): a :class:`TypedFor`."""


@dataclass(frozen=True)
class TypedFor:
    """How a message typed for the patient is read: a sign of the person named where it says so
    is the patient's; so is one of "she" or "he" where nobody else is named; in the second
    reading ("she" read as "I"), every sign is."""

    spans: tuple[tuple[int, int], ...] = ()
    named: frozenset[str] = frozenset()
    """The words of those spans, also without a possessive "s" ("papas" -> "papa"): named again
    later in the message, it is the same person."""
    she_is_patient: bool = False
    bare_is_patient: bool = False
    """The spans name only the one typing ("Hier schreibt der Sohn: Papa spricht ..."): a person
    named with no word before ("Papa", not "mein Mann", "the cat") is the patient."""
    everyone: bool = False

    def names_patient(self, doc: Any, start: int, end: int) -> bool:
        """Whether the person at ``doc[start:end]`` is the patient: named where the message
        says it is typed for them, named so again, or (``bare_is_patient``) with no word
        before."""
        return (
            any(s < end and start < e for s, e in self.spans)
            or doc[start].lower_ in self.named
            or (self.bare_is_patient and _bare(doc, start))
        )


def _bare(doc: Any, start: int) -> bool:
    """A person named with no word before: at the start, or after a comma, colon or full stop."""
    return start == 0 or not doc[start - 1].is_alpha


FIRST_PERSON = frozenset({"my", "me", "myself"})
"""Words that bring a sentence back to the patient: "my wife says my face is drooping". "I" counts
when a verb of the patient's own follows (``I_VERBS``): "he says I am slurring", not "the horse I
ride"."""
I_VERBS = frozenset(
    {
        "am",
        "have",
        "was",
        "had",
        "can",
        "could",
        "feel",
        "felt",
        "keep",
        "kept",
        "do",
        "did",
        "just",
        "sound",
        "sounded",
        "seem",
        "seemed",
        "look",
        "looked",
        "will",
        "would",
        "also",
        "really",
        "literally",
    }
)


class TextReader:
    """Finds warning signs in free text. Build once per process (about a second); reading one
    message takes a few milliseconds."""

    def __init__(self, terms: Terms) -> None:
        import spacy
        from medspacy.context import ConTextRule
        from medspacy.ner import TargetRule
        from spacy.matcher import Matcher
        from spacy.tokens import Token

        self.terms = terms
        stops = GAP_STOPS_BY_LANGUAGE[terms.language]
        not_about_me = partial(_not_about_me, speaker=SPEAKERS[terms.language])
        nlp = spacy.blank(terms.language)
        nlp.add_pipe("sentencizer")
        rules = [
            TargetRule(spec, label, pattern=pattern)
            for label, specs in terms.targets.items()
            for spec in specs
            for pattern in compile_patterns(spec, terms.words, stops, past_stops=True)
        ]
        # Several matchers, each with a share of the rules, all adding to one span group: spaCy's
        # Matcher takes time in the square of its rules to add them (each token pattern is
        # checked against every predicate added before), so one matcher with every rule took
        # 17 s to build. The spans found are the same, merged after the last matcher.
        self._target_matchers: list[str] = []
        for n, start in enumerate(range(0, max(len(rules), 1), _RULES_PER_MATCHER)):
            name = _TARGET_MATCHER if n == 0 else f"{_TARGET_MATCHER}_{n + 1}"
            matcher: Any = nlp.add_pipe(
                "medspacy_target_matcher",
                name=name,
                config={"result_type": "group", "span_group_name": _SPANS, "prune": False},
            )
            _skip_validation(matcher)
            if rules:
                matcher.add(rules[start : start + _RULES_PER_MATCHER])
            self._target_matchers.append(name)
        cue_matcher: Any = nlp.add_pipe(
            "medspacy_target_matcher",
            name="cue_matcher",
            config={"result_type": "group", "span_group_name": _CUES, "prune": False},
        )
        _skip_validation(cue_matcher)
        cue_rules = [
            TargetRule(spec, _CUE_PREFIX + label, pattern=pattern)
            for label, specs in terms.cues.items()
            for spec in specs
            for pattern in compile_patterns(spec, terms.words, stops, past_stops=True)
        ]
        if cue_rules:
            cue_matcher.add(cue_rules)
        # No global max_scope: a modifier's scope is its sentence, cut to the rule's max_scope.
        context: Any = nlp.add_pipe(
            "medspacy_context",
            config={
                "rules": None,
                "prune_on_target_overlap": True,
                "input_span_type": "group",
                "span_group_name": _SPANS,
            },
            last=True,
        )
        _skip_validation(context)
        context.add(
            [
                ConTextRule(
                    rule["literal"],
                    rule["category"],
                    pattern=pattern,
                    direction=rule.get("direction", "BIDIRECTIONAL"),
                    max_scope=rule.get("max_scope"),
                    terminated_by=set(rule.get("terminated_by", ())),
                    allowed_types=_optional_set(rule.get("allowed_types")),
                    excluded_types=_optional_set(rule.get("excluded_types")),
                    on_modifies=not_about_me if rule["category"] == "FAMILY" else None,
                )
                for rule in terms.modifiers
                for pattern in compile_patterns(
                    rule.get("pattern", rule["literal"].replace(" ", "_")), terms.words, stops
                )
            ]
        )
        self.nlp = nlp
        self._respell = _respeller(terms.spellings)
        self._as_patient = _respeller(terms.as_patient)
        if not Token.has_extension(PAST_MARK):
            Token.set_extension(PAST_MARK, default=False)
        self._modifier_matcher = Matcher(nlp.vocab, validate=False)
        for rule in terms.modifiers:
            spec = rule.get("pattern", rule["literal"].replace(" ", "_"))
            key = PAST_MARK if rule.get("stops_gaps") else str(rule["category"])
            self._modifier_matcher.add(key, compile_patterns(spec, terms.words, stops))
        self._for_someone = Matcher(nlp.vocab, validate=False)
        for spec in terms.for_someone:
            self._for_someone.add(_FOR_SOMEONE, compile_patterns(spec, terms.words, stops))

    def read(self, text: str) -> tuple[Finding, ...]:
        """Every warning sign mentioned, each with how certain it is that the patient has it
        now. A sign mentioned both ways counts as present: a denial never outweighs a report. A
        sign only hinted at by a cue, not excluded, is asked about (UNCERTAIN, reason "cue")."""
        normalised = self._respell(normalise(text, self.terms.language)).rstrip()
        if normalised and normalised[-1] not in ".!?;:":
            normalised += " ."  # a pattern may end at the end of the message ("... and went down")
        labels, for_someone = self._labels_in(normalised)
        if for_someone and self.terms.as_patient:
            # Typed for the patient: read again with "she", "her" as "I", "my" ("she fell").
            again, _ = self._labels_in(self._as_patient(normalised), as_patient=True)
            for label, value in again.items():
                labels[label] = _best([value, *([labels[label]] if label in labels else [])])
        return tuple(
            Finding(Code(label), certainty, "text", reason)
            for label, (certainty, reason) in sorted(labels.items())
            if label not in HELPER_LABELS
        )

    def _labels_in(
        self, normalised: str, *, as_patient: bool = False
    ) -> tuple[dict[str, tuple[Certainty, str]], bool]:
        """Each sign read in a normalised message, with how certain; and whether it says it is
        typed for the patient by someone else and names nobody else (then it is worth reading
        again with "she" as "I"). ``as_patient``: that second reading, in which nobody is
        someone else."""
        doc = self.nlp.make_doc(normalised)
        modifiers = self._mark_past(doc)
        typed_for = tuple((start, end) for _, start, end in self._for_someone(doc))
        words = [t.lower_ for start, end in typed_for for t in doc[start:end]]
        speaker = SPEAKERS[self.terms.language]
        said = TypedFor(
            typed_for,
            frozenset(words) | {w.removesuffix("s") for w in words} | {w + "s" for w in words},
            bare_is_patient=not speaker.for_words & set(words),
        )
        someone_else = any(
            category == "FAMILY"
            and doc[start].lower_ not in speaker.pronouns
            and not said.names_patient(doc, start, end)
            for category, start, end in modifiers
        )
        if as_patient:
            doc.user_data[_FOR_SOMEONE] = TypedFor(everyone=True)
        elif typed_for:
            doc.user_data[_FOR_SOMEONE] = replace(said, she_is_patient=not someone_else)
        look_alikes: list[Any] = []
        context: Any = None
        for name, component in self.nlp.pipeline:
            if name == "cue_matcher":
                continue
            doc = component(doc)
            if name == self._target_matchers[-1]:
                spans = _merged_per_label(doc.spans.get(_SPANS, []))
                look_alikes = [s for s in spans if s.label_ == LOOK_ALIKE]
                doc.spans[_SPANS] = _without_look_alikes(spans)
            elif name == "medspacy_context":
                context = component
        labels = _labels(doc.spans[_SPANS])
        _resolve_chest(labels)
        found = {label for label in labels if label not in HELPER_LABELS}
        if {CHEST_PAIN, BREATHLESS, MS_HUG} & set(labels):
            found.add(Code.CHEST.value)  # read already, if only as the familiar MS hug
        cues = self._cues(doc, look_alikes, found, context)
        for code, value in cues.items():
            labels[code] = value
        return labels, bool(typed_for) and not someone_else

    def _mark_past(self, doc: Any) -> list[tuple[str, int, int]]:
        """Sets ``PAST_MARK`` on the words of every match of a modifier rule marked ``stops_gaps``
        that no longer modifier overlaps (as ConText prunes them) and no CURRENT word just
        precedes. Returns the modifier matches (category, start, end)."""
        from medspacy.common.util import prune_overlapping_matches

        strings = doc.vocab.strings
        matches = [
            (strings[key], start, end)
            for key, start, end in prune_overlapping_matches(self._modifier_matcher(doc))
        ]
        current_ends = {end for category, _, end in matches if category == "CURRENT"}
        for category, start, end in matches:
            if category == PAST_MARK and not current_ends & {start - 2, start - 1, start}:
                for token in doc[start:end]:
                    token._.set(PAST_MARK, True)
        return matches

    def _cues(
        self, doc: Any, look_alikes: list[Any], found: set[str], context: Any
    ) -> dict[str, tuple[Certainty, str]]:
        """Signs hinted at by a cue and not read by a full pattern: asked about, unless every
        cue of the sign is denied, someone else's, past or hypothetical."""
        if not self.terms.cues or context is None:
            return {}
        doc = self.nlp.get_pipe("cue_matcher")(doc)
        spans = [
            s
            for s in _merged_per_label(doc.spans.get(_CUES, []))
            if s.label_[len(_CUE_PREFIX) :] not in found
        ]
        spans = _without_look_alikes([*spans, *look_alikes])
        if not spans:
            return {}
        doc.spans[_SPANS] = spans
        context(doc)
        result: dict[str, tuple[Certainty, str]] = {}
        for label, (certainty, _reason) in _labels(spans).items():
            if certainty is not Certainty.EXCLUDED:
                result[label[len(_CUE_PREFIX) :]] = (Certainty.UNCERTAIN, "cue")
        return result


def _skip_validation(component: Any) -> None:
    """spaCy checks every token pattern added to a Matcher (with pydantic: most of the time it
    takes to build a reader). Ours are all made by ``compile_patterns``, so the Matcher inside a
    medspaCy component skips the check. If medspaCy's insides change, it simply checks again."""
    for name in ("_TargetMatcher__matcher", "_ConText__matcher"):
        inner = getattr(getattr(component, name, None), "_MedspacyMatcher__matcher", None)
        if inner is not None and hasattr(inner, "validate"):
            inner.validate = False


def _labels(spans: Iterable[Any]) -> dict[str, tuple[Certainty, str]]:
    found: dict[str, list[tuple[Certainty, str]]] = {}
    for span in spans:
        found.setdefault(span.label_, []).append(_certainty(span))
    return {label: _best(values) for label, values in found.items()}


def _optional_set(values: Iterable[str] | None) -> set[str] | None:
    return None if values is None else {v.upper() for v in values}


def _merged_per_label(spans: Iterable[Any]) -> list[Any]:
    """Overlapping matches of one sign become one span over them all, so that the whole phrase
    ("can not walk"), not a piece of it, is what ConText modifies, and no word of any of the
    matches ("not" in "do not respond down there") is read as a modifier of the others; matches
    of different signs may overlap."""
    from spacy.tokens import Span

    merged: list[Any] = []
    for span in sorted(spans, key=lambda s: (s.label, s.start, s.end)):
        last = merged[-1] if merged else None
        if last is not None and last.label == span.label and span.start < last.end:
            if span.end > last.end:
                merged[-1] = Span(span.doc, last.start, span.end, label=span.label)
        else:
            merged.append(span)
    return sorted(merged, key=lambda s: (s.start, s.end))


def _without_look_alikes(spans: list[Any]) -> list[Any]:
    look_alikes = [s for s in spans if s.label_ == LOOK_ALIKE]
    return [
        s
        for s in spans
        if s.label_ != LOOK_ALIKE
        and not any(a.start < s.end and s.start < a.end for a in look_alikes)
    ]


GROUPS = frozenset({"ms", "group", "support", "class", "club", "team", "church", "family"})
"""After "my", words that name a group the other person belongs to ("a lady in my MS group")."""


@dataclass(frozen=True)
class Speaker:
    """The words by which a patient speaks of themself, per language (see ``_not_about_me``)."""

    first_person: frozenset[str]
    i: frozenset[str]
    i_verbs: frozenset[str]
    my: frozenset[str]
    groups: frozenset[str]
    verb_first: bool = False
    """Whether the verb may also come just before "I" ("seit mittag kann ich nicht laufen")."""
    for_words: frozenset[str] = frozenset()
    """Words that name, in a message typed for the patient, whom it is for ("for", "on behalf")."""
    pronouns: frozenset[str] = frozenset()
    """Words for a person not named ("she", "his"): in a message typed for the patient they are
    the patient (``Terms.for_someone``)."""
    i_implied: frozenset[str] = frozenset()
    """Verbs that are the patient's own without "I", opening a sentence that drops it: "bin vom
    Stuhl nicht hochgekommen, Frau musste helfen", "hab grad verwaschen gesprochen, meine Frau hat
    nix verstanden" (only for a person named after the sign)."""
    says: frozenset[str] = frozenset()
    """Verbs by which a person named after the sign says it ("..., says my sister"): the sign is
    theirs only when quoted ("'Both my legs are numb,' says my sister"); unquoted it is what they
    see in the patient ("face drooping on one side, says my wife")."""


_DE_MY = frozenset({"mein", "meine", "meinen", "meinem", "meiner", "meines"})
SPEAKERS = {
    "en": Speaker(
        FIRST_PERSON,
        frozenset({"i"}),
        I_VERBS,
        frozenset({"my"}),
        GROUPS,
        pronouns=frozenset(
            [
                "she",
                "he",
                "her",
                "him",
                "his",
                "hers",
                "they",
                "them",
                "their",
                "herself",
                "himself",
                "themselves",
            ]
        ),
        for_words=frozenset({"for", "behalf", "on_behalf_of"}),
        says=frozenset(
            [
                "says",
                "said",
                "whispered",
                "texted",
                "wrote",
                "complains",
                "complained",
                "moans",
                "moaned",
            ]
        ),
    ),
    "de": Speaker(
        first_person=_DE_MY | {"meins", "mir", "mich", "mei", "meim", "meina"},
        i=frozenset({"ich", "i", "ick", "isch", "ech", "ik"}),
        i_verbs=frozenset(
            [
                "bin",
                "bins",
                "hab",
                "habe",
                "hob",
                "hatte",
                "haette",
                "hatt",
                "war",
                "waer",
                "kann",
                "konnte",
                "koennte",
                "kriege",
                "krieg",
                "bekomme",
                "fuehle",
                "fuehl",
                "fuhle",
                "spuere",
                "spuer",
                "spure",
                "merke",
                "merk",
                "muss",
                "musste",
                "werde",
                "wurde",
                "selbst",
                "selber",
                "auch",
                "lalle",
                "nuschle",
                "nuschel",
                "rede",
                "red",
                "klinge",
                "reagiere",
                "reagier",
                "kling",
                "hoere",
                "hoer",
                "spreche",
                "sprech",
                "sehe",
                "seh",
                "komme",
                "komm",
                "kam",
                "falle",
                "fall",
                "fiel",
                "lag",
                "liege",
                "lieg",
                "flog",
                "stuerzte",
                "rutschte",
                "landete",
                "stolpere",
                "knicke",
                "kippe",
                "haenge",
                "schaffe",
                "schaff",
                "pinkle",
                "pinkel",
                "mache",
                "mach",
                "habs",
                "jetzt",
                "gerade",
                "grad",
                "heute",
                "eben",
                "wirklich",
                "echt",
            ]
        ),
        my=_DE_MY,
        groups=frozenset(
            [
                "ms",
                "ms-gruppe",
                "gruppe",
                "selbsthilfegruppe",
                "shg",
                "reha",
                "reha-gruppe",
                "kurs",
                "verein",
                "team",
                "familie",
                "kirche",
                "gemeinde",
                "klasse",
                "chor",
                "forum",
                "ms-forum",
            ]
        ),
        verb_first=True,
        pronouns=frozenset(
            [
                "sie",
                "er",
                "ihr",
                "ihre",
                "ihren",
                "ihrem",
                "ihrer",
                "ihn",
                "ihm",
                "sein",
                "seine",
                "seinen",
                "seinem",
                "seiner",
            ]
        ),
        for_words=frozenset(
            [
                "fuer",
                "für",
                "namen",
                "auftrag",
                "statt",
                "anstelle",
                "stellvertretend",
                "anstelle_von",
            ]
        ),
        i_implied=frozenset({"bin", "bins", "hab", "habe"}),
        says=frozenset(
            [
                "sagt",
                "sagte",
                "meint",
                "meinte",
                "erzählt",
                "erzählte",
                "erzaehlt",
                "erzaehlte",
                "schreibt",
                "schrieb",
                "klagt",
                "klagte",
                "jammert",
            ]
        ),
    ),
}


def _not_about_me(
    target: Any, modifier: Any, _between: Any, speaker: Speaker = SPEAKERS["en"]
) -> bool:
    """Someone else's sign, unless the patient speaks of themself in the sign or between it and
    the person named: "my husband says my face is drooping", "me and my wife tried ...", or the
    message is typed for the patient by someone else (``Terms.for_someone``)."""
    doc = target.doc
    typed_for: TypedFor | None = doc.user_data.get(_FOR_SOMEONE)
    if typed_for is not None and (
        typed_for.everyone
        or (typed_for.she_is_patient and doc[modifier.start].lower_ in speaker.pronouns)
        or typed_for.names_patient(doc, modifier.start, modifier.end)
    ):
        # The person it is typed for, or "she" where nobody else is named: "Daughter typing
        # for Jean: she says she can't tell when she needs a wee" ("dad fell and he can't get
        # up" stays dad's)
        return False
    if target.end <= modifier.start and doc[modifier.start].lower_ in speaker.says:
        # "'Both my legs are numb,' says my sister": her words, quoted; unquoted, "face drooping
        # on one side, says my wife" is what she sees in the patient
        return _quoted(target, modifier, speaker)
    if target.start >= modifier.end:
        between = doc[modifier.end : target.start]
    elif target.end <= modifier.start:
        between = doc[target.end : modifier.start]
    else:
        between = doc[0:0]
    before = target.start - 1
    if (
        before >= 0
        and doc[before].lower_ in speaker.first_person | speaker.i
        and not modifier.start <= before < modifier.end  # "ein Kollege von mir kann nicht ..."
    ):
        return False  # "my legs have no strength in them", "my husband says I talk funny"
    if target.end <= modifier.start and any(
        t.lower_ in speaker.i_implied for t in doc[target.sent.start : target.start]
    ):
        return False  # "bin nicht hochgekommen, Frau musste helfen"
    tokens = [*between, *target]
    return not any(
        (t.lower_ in speaker.first_person and not _my_group(t, speaker))
        or (t.lower_ in speaker.i and _i_verb(t, speaker))
        for t in tokens
    )


QUOTES = frozenset({'"', "'", "“", "”", "„", "‘", "’", "«", "»", "‚"})


def _quoted(target: Any, modifier: Any, speaker: Speaker = SPEAKERS["en"]) -> bool:
    """Whether the sign is inside a quotation that the person named after it said: a quotation
    mark opens before the sign in its sentence and one closes between it and the person, followed
    directly (punctuation only) by the verb ("'I can't feel anything when I wipe,' said a lady").
    Never a quotation of the patient's own: "'I can't feel my legs,' I texted my husband", "I
    said 'my face is drooping'", "Ich sagte „mein Gesicht hängt“"."""
    doc = target.doc
    start = target.sent.start
    opening = [t.i for t in doc[start : target.start] if t.text in QUOTES]
    closing = [t.i for t in doc[target.end : modifier.start] if t.text in QUOTES]
    if not opening or not closing:
        return False
    if any(not (t.is_punct or t.text in QUOTES) for t in doc[closing[-1] + 1 : modifier.start]):
        return False  # "'...,' I texted my husband": the patient said it
    after = modifier.start + 1
    if after < len(doc) and doc[after].lower_ in speaker.i:
        return False  # "'...,' said I"
    introduced = doc[max(start, opening[0] - 6) : opening[0]]
    return not any(t.lower_ in speaker.i for t in introduced)  # "I said '...'"


def _i_verb(token: Any, speaker: Speaker) -> bool:
    """A verb of the patient's own next to "I": after it, or also before it where the language
    puts the verb first after a fronted phrase ("und seit mittag kann ich nicht laufen")."""
    doc = token.doc
    after = token.i + 1 < len(doc) and doc[token.i + 1].lower_ in speaker.i_verbs
    before = speaker.verb_first and token.i > 0 and doc[token.i - 1].lower_ in speaker.i_verbs
    return after or before


def _my_group(token: Any, speaker: Speaker = SPEAKERS["en"]) -> bool:
    doc = token.doc
    return (
        token.lower_ in speaker.my
        and token.i + 1 < len(doc)
        and doc[token.i + 1].lower_ in speaker.groups
    )


def _certainty(ent: Any) -> tuple[Certainty, str]:
    for category, reason in _EXCLUDING.items():
        attribute = {
            "NEGATED_EXISTENCE": "is_negated",
            "FAMILY": "is_family",
            "HISTORICAL": "is_historical",
            "HYPOTHETICAL": "is_hypothetical",
        }[category]
        if getattr(ent._, attribute):
            return Certainty.EXCLUDED, reason
    if ent._.is_uncertain:
        return Certainty.UNCERTAIN, "hedged"
    return Certainty.PRESENT, ""


_RANK = {Certainty.PRESENT: 0, Certainty.UNCERTAIN: 1, Certainty.EXCLUDED: 2}


def _best(values: Iterable[tuple[Certainty, str]]) -> tuple[Certainty, str]:
    return min(values, key=lambda v: _RANK[v[0]])


def _resolve_chest(labels: dict[str, tuple[Certainty, str]]) -> None:
    """Chest pain counts unless it is the familiar MS band (mentioned and not denied: "this isn't
    my hug") with neither breathlessness nor an alarm feature (sweating, sickness, faintness, pain
    into the jaw or arm); breathlessness counts on its own."""
    pain = labels.get(CHEST_PAIN)
    breath = labels.get(BREATHLESS)
    hug = labels.get(MS_HUG)
    alarm = labels.get(CHEST_ALARM)
    familiar = hug is not None and hug[0] is not Certainty.EXCLUDED
    alarming = alarm is not None and alarm[0] is not Certainty.EXCLUDED
    if pain is not None and familiar and not alarming:
        pain = None
    candidates = [v for v in (breath, pain) if v is not None]
    if candidates and Code.CHEST.value not in labels:
        labels[Code.CHEST.value] = _best(candidates)
    elif candidates:
        labels[Code.CHEST.value] = _best([labels[Code.CHEST.value], *candidates])


class Readers:
    """Every language's reader at once: a message is read with each, since people type in the
    language they think in, whatever the bot speaks to them. A sign found present by any reader
    is present (a denial never outweighs a report)."""

    def __init__(self, languages: Iterable[str], *, fresh: bool = False) -> None:
        """``fresh``: readers of their own rather than the process's (whose vocabulary holds
        every word they have read)."""
        build = (lambda language: TextReader(load_terms(language))) if fresh else reader
        self.readers = tuple(build(language) for language in languages)

    def read(self, text: str) -> tuple[Finding, ...]:
        return tuple(finding for r in self.readers for finding in r.read(text))


@cache
def reader(language: str = "en") -> TextReader:
    """The reader for a language, built once per process."""
    return TextReader(load_terms(language))
