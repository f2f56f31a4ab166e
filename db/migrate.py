"""Apply the Alembic migrations in ``db/migrations`` to a database URL."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

from db.session import ensure_sqlite_folder

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0010"
"""The newest migration (``tests/test_migrations.py`` checks that it is Alembic's head). A
database already there is not handed to Alembic when the bot starts: importing and running it
cost a few tenths of a second of every start-up."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("db") / "migrations"))
    # '%' is Alembic's interpolation character; URLs may contain it (escaped passwords).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``. Blocking: call it outside the event loop
    (or through ``asyncio.to_thread``), since the migration environment runs its own loop."""
    from alembic import command

    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)


def at_head(url: str) -> bool:
    """Whether the database at ``url`` is known to be at :data:`HEAD`, read without Alembic.
    False whenever it cannot tell (no file, no table, no connection): then :func:`upgrade`
    decides, and reports what is wrong. Blocking, like :func:`upgrade`."""
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if not path or path == ":memory:" or not Path(path).expanduser().is_file():
                return False
            target = f"file:{Path(path).expanduser()}?mode=ro"
            with closing(sqlite3.connect(target, uri=True)) as connection:
                rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        else:
            rows = asyncio.run(_postgres_revisions(parsed.set(drivername="postgresql")))
    except Exception:  # anything unusual is Alembic's to handle, and to report
        return False
    return [tuple(row) for row in rows] == [(HEAD,)]


async def _postgres_revisions(url: URL) -> list[tuple[str]]:
    import asyncpg  # type: ignore[import-untyped]

    dsn = url.render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return [tuple(r) for r in await connection.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await connection.close()
