"""Dependencies point one way: handlers/ -> bot/ -> db/. The composition root is handlers/app.py;
bot/ reaches handlers/ only from the command-line entry points, and Telegram only there and in
its transport (a python-telegram-bot BaseRequest)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ENTRY_POINTS = {"bot/__main__.py", "bot/demo.py"}
"""``python -m bot run`` and ``demo``: they start the whole program, so they compose every layer."""

TELEGRAM_IN_BOT = ENTRY_POINTS | {"bot/transport.py"}


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(*folders: str) -> list[Path]:
    files = [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]
    assert files
    return files


def _top(module: str) -> str:
    return module.split(".")[0]


def test_nothing_below_handlers_imports_them_but_the_entry_points() -> None:
    upward = {
        str(path.relative_to(ROOT)): sorted(m for m in _imports(path) if _top(m) == "handlers")
        for path in _files("bot", "db", "content")
    }
    offenders = {f: m for f, m in upward.items() if m and f not in ENTRY_POINTS}
    assert offenders == {}
    assert all(upward[f] == ["handlers.app"] for f in ENTRY_POINTS)


def test_db_imports_neither_bot_nor_handlers() -> None:
    for path in _files("db"):
        assert not {_top(m) for m in _imports(path)} & {"bot", "handlers"}, path


def test_only_the_entry_points_and_the_transport_in_bot_import_telegram() -> None:
    using = {
        str(path.relative_to(ROOT))
        for path in _files("bot")
        if any(_top(m) == "telegram" for m in _imports(path))
    }
    assert using == TELEGRAM_IN_BOT
