"""Evaluate the free-text reader on a labelled corpus: sensitivity and false alarms per category.

``python -m bot triage-eval [corpus.yaml] [--language de]`` prints one line per warning sign and
per kind of harmless text, and exits non-zero when a target is missed. The corpus format is
described at the top of ``tests/corpus/free_text_en.yaml`` (German: ``free_text_de.yaml``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.findings import Code, present, uncertain
from bot.free_text import TextReader
from content.yamlfile import parse_yaml

SENSITIVITY_TARGET = 0.97
FALSE_ALARM_TARGET = 0.03
NEGATIVE_KINDS = ("negated", "other_person", "past", "hypothetical", "harmless")


@dataclass
class Report:
    caught: Counter[str] = field(default_factory=Counter)
    red_asked: Counter[str] = field(default_factory=Counter)
    """Red phrasings not escalated but asked about ("Is this new?"): caught by the safety net."""
    red: Counter[str] = field(default_factory=Counter)
    alarms: Counter[str] = field(default_factory=Counter)
    asked: Counter[str] = field(default_factory=Counter)
    negatives: Counter[str] = field(default_factory=Counter)
    hedged_handled: int = 0
    hedged: int = 0
    misses: list[tuple[str, str]] = field(default_factory=list)
    false_alarms: list[tuple[str, str]] = field(default_factory=list)

    @property
    def sensitivity(self) -> float:
        return sum(self.caught.values()) / max(1, sum(self.red.values()))

    @property
    def false_alarm_rate(self) -> float:
        return sum(self.alarms.values()) / max(1, sum(self.negatives.values()))

    @property
    def meets_targets(self) -> bool:
        return (
            self.sensitivity >= SENSITIVITY_TARGET and self.false_alarm_rate <= FALSE_ALARM_TARGET
        )


def load_corpus(path: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = parse_yaml(path.read_text(encoding="utf-8"))["items"]
    return items


def evaluate(reader: TextReader, items: list[dict[str, Any]]) -> Report:
    """A red item counts as caught when every sign it names is read as present (the bot
    escalates); a harmless item is a false alarm when any sign is read as present."""
    report = Report()
    for item in items:
        text, kind, expect = item["text"], item["kind"], set(item["expect"])
        findings = reader.read(text)
        found, asked = present(findings), uncertain(findings)
        if kind == "red":
            for code in expect:
                report.red[code] += 1
                if Code(code) in found:
                    report.caught[code] += 1
                elif Code(code) in asked:
                    report.red_asked[code] += 1
                    report.misses.append((code + " (asked)", text))
                else:
                    report.misses.append((code, text))
        elif kind == "uncertain":
            report.hedged += 1
            if {Code(c) for c in expect} <= found | asked:
                report.hedged_handled += 1
            else:
                report.misses.append(("uncertain:" + ",".join(expect), text))
        elif kind in NEGATIVE_KINDS:
            report.negatives[kind] += 1
            if found:
                report.alarms[kind] += 1
                report.false_alarms.append((kind + ":" + ",".join(sorted(found)), text))
            elif asked:
                report.asked[kind] += 1
    return report


def format_report(report: Report, verbose: bool = False) -> str:
    lines = ["warning sign      red phrasings  escalated  sensitivity  asked instead"]
    for code in Code:
        total = report.red[code.value]
        caught = report.caught[code.value]
        rate = caught / total if total else 0.0
        asked = report.red_asked[code.value]
        lines.append(f"{code.value:<17} {total:>13}  {caught:>9}  {rate:>10.1%}  {asked:>13}")
    lines.append(
        f"{'all':<17} {sum(report.red.values()):>13}  {sum(report.caught.values()):>9}  "
        f"{report.sensitivity:>10.1%}  {sum(report.red_asked.values()):>13}"
        f"  (target >= {SENSITIVITY_TARGET:.0%} escalated)"
    )
    lines += ["", "harmless text     phrasings  false alarms  rate    asked instead"]
    for kind in NEGATIVE_KINDS:
        total = report.negatives[kind]
        alarms = report.alarms[kind]
        rate = alarms / total if total else 0.0
        lines.append(f"{kind:<17} {total:>9}  {alarms:>12}  {rate:>5.1%}  {report.asked[kind]:>6}")
    lines.append(
        f"{'all':<17} {sum(report.negatives.values()):>9}  {sum(report.alarms.values()):>12}  "
        f"{report.false_alarm_rate:>5.1%}  (target <= {FALSE_ALARM_TARGET:.0%})"
    )
    lines.append(
        f"\nhedged phrasings asked about or escalated: {report.hedged_handled}/{report.hedged}"
    )
    red, reached = sum(report.red.values()), report.caught.total() + report.red_asked.total()
    lines.append(
        f"red phrasings escalated or asked about: {reached}/{red} ({reached / max(1, red):.1%}); "
        f"harmless texts asked about: {report.asked.total()}/{report.negatives.total()}"
    )
    if verbose:
        lines += ["", "missed:"] + [f"  {c}: {t}" for c, t in report.misses]
        lines += ["", "false alarms:"] + [f"  {c}: {t}" for c, t in report.false_alarms]
    return "\n".join(lines)
