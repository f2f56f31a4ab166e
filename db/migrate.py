"""Apply the Alembic migrations in ``db/migrations`` to a database URL."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from db.session import ensure_sqlite_folder


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("db") / "migrations"))
    # '%' is Alembic's interpolation character; URLs may contain it (escaped passwords).
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``. Blocking: call it outside the event loop
    (or through ``asyncio.to_thread``), since the migration environment runs its own loop."""
    ensure_sqlite_folder(url)
    command.upgrade(alembic_config(url), revision)
