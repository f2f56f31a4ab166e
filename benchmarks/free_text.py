"""Benchmark of the free-text reader: time to build, time per message beside a baseline measured
in the same run (spaCy's bare tokenizer and sentencizer on the same texts: the cost of the
pipeline before any rule), capacity with several messages read at once (in worker threads, as
the bot does), and memory. Writes benchmarks/free_text.md; asserts nothing.

    python -m benchmarks.free_text
"""

from __future__ import annotations

import asyncio
import platform
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]
CORPUS = ROOT / "tests" / "corpus" / "free_text_en.yaml"


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def per_message_ms(read: object, texts: list[str], rounds: int = 3) -> tuple[float, float]:
    timings: list[float] = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            read(text)  # type: ignore[operator]
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95)]


async def capacity(read: object, texts: list[str], concurrency: int) -> float:
    """Messages read per second with ``concurrency`` readers at once, in worker threads."""
    queue = list(texts) * 4
    done = 0

    async def worker() -> None:
        nonlocal done
        while queue:
            text = queue.pop()
            await asyncio.to_thread(read, text)  # type: ignore[arg-type]
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start)


def main() -> None:
    texts = [i["text"] for i in yaml.safe_load(CORPUS.read_text())["items"]]
    before = rss_mb()
    start = time.perf_counter()
    import spacy

    from bot.free_text import reader

    imported = time.perf_counter() - start
    start = time.perf_counter()
    full = reader("en")
    built = time.perf_counter() - start
    after = rss_mb()

    bare = spacy.blank("en")
    bare.add_pipe("sentencizer")
    base_median, base_p95 = per_message_ms(bare, texts)
    full_median, full_p95 = per_message_ms(full.read, texts)
    rows = []
    for concurrency in (1, 4, 16):
        rows.append(
            (
                concurrency,
                asyncio.run(capacity(bare, texts, concurrency)),
                asyncio.run(capacity(full.read, texts, concurrency)),
            )
        )
    lines = [
        "# Free-text reader benchmark",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d} with `python -m benchmarks.free_text` "
        f"(CPython {platform.python_version()}, {sys.platform}). {len(texts)} messages from "
        "tests/corpus/free_text_en.yaml, each read 3 times. Baseline: spaCy's blank English "
        "tokenizer and sentencizer alone, in the same run.",
        "",
        "| measure | baseline (tokenize only) | reader (targets + ConText) |",
        "| --- | --- | --- |",
        f"| per message, median ms | {base_median:.2f} | {full_median:.2f} |",
        f"| per message, p95 ms | {base_p95:.2f} | {full_p95:.2f} |",
    ]
    for concurrency, base_rate, full_rate in rows:
        lines.append(
            f"| messages/s, {concurrency} at once (worker threads) | {base_rate:.0f} | "
            f"{full_rate:.0f} |"
        )
    lines += [
        "",
        f"Import of spaCy and medspaCy: {imported:.2f} s; building the reader: {built:.2f} s "
        "(done once, at start-up). Peak memory: "
        f"{before:.0f} MB before, {after:.0f} MB after import and build.",
        "",
        "Reading is CPU-bound and holds the GIL, so more threads do not add capacity; they keep "
        "the event loop free for other people's taps while a message is read. Patients type a "
        "few messages a day, far below the capacity above.",
    ]
    out = ROOT / "benchmarks" / "free_text.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
