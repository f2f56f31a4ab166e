"""Looking at processes through /proc (Linux): the bot's worker processes and their memory.
Used by the tests and the benchmarks alike."""

from __future__ import annotations

from pathlib import Path


def children_of(pid: int) -> list[int]:
    """The processes ``pid`` started (the text reader and chart workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The parent's pid is the second field after the command, which is in brackets.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def has_loaded(pid: int, library: str) -> bool:
    """Whether a library's files (e.g. spaCy's compiled modules) are mapped in a process."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process now, in MB (it can go down as well as up); 0 when gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
