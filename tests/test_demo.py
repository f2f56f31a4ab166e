"""`python -m bot demo`: the real Application in a terminal, without a token or a network,
driven here by scripted input as a person would type it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def run_demo(lines: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)},
        cwd=tmp_path,
        check=False,
    )


def test_the_demo_runs_a_check_in_and_a_reminder_from_typed_input(tmp_path: Path) -> None:
    script = [
        "1",  # Yes, that's OK
        "2",  # Berlin
        "2", "2", "2",  # no, no, no: the three profile questions
        "1",  # a daily reminder at 09:00
        "/checkin",
        "99",  # no such button: said so, nothing lost
        "5",  # pain 4
        "3", "9",  # lower back, Done
        ":later 30m",
        ":later soon",  # not understood: said so
        ":next",  # the clock moves to the 09:00 reminder, which arrives
        ":quit",
    ]  # fmt: skip
    result = run_demo(script, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "no token, no network" in out
    assert "Is it OK for me to store your answers" in out
    assert "Saved: Europe/Berlin" in out
    assert "I'll remind you every day at 09:00" in out
    assert "(no button 99: choose 1 to 12)" in out
    assert "Where is the pain?" in out
    assert re.search(r"What does it feel like\?", out), out[-2000:]
    assert "(say how much later: 30m, 2h or 1d)" in out
    moves = [m.start() for m in re.finditer(r"\(the clock moves on: it is now", out)]
    assert len(moves) == 2
    assert "Time for your back check-in" in out[moves[1] :]
    assert "Later: 30 min" in out[moves[1] :]  # its buttons, numbered
    assert "Traceback" not in result.stderr
    # The temporary database went with the demo.
    assert not [p for p in tmp_path.rglob("*.db")]


def test_the_demo_stops_at_the_end_of_its_input(tmp_path: Path) -> None:
    result = run_demo(["2"], tmp_path)  # Not now, then the input ends
    assert result.returncode == 0, result.stderr
    assert "Is it OK for me to store your answers" in result.stdout
    assert ":wat" not in result.stdout
