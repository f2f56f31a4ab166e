"""Alembic environment: runs migrations through the async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from db.models import Base
from db.session import is_sqlite, write_lock_at_begin

target_metadata = Base.metadata


MIGRATION_LOCK = 0x6D73_6261_636B  # "msback": the advisory lock key of migrations
"""On PostgreSQL, migrations take this transaction-level advisory lock first: any number of
instances may start together on a fresh database; one migrates, the others wait and then find
the schema at head. (On SQLite, BEGIN IMMEDIATE does the same: db/session.py.)"""


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # One transaction for the whole upgrade on SQLite too (its DDL is transactional): the
        # write lock taken at its BEGIN is held until every step is done.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _run_async(url: str) -> None:
    # On SQLite, an instance waiting for another's migration waits up to a minute.
    engine = create_async_engine(url, connect_args={"timeout": 60} if is_sqlite(url) else {})
    if is_sqlite(url):
        # The write lock at BEGIN: a second instance migrating at the same moment waits, then
        # finds the schema at head.
        write_lock_at_begin(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set; use db.migrate.upgrade(url)")
    asyncio.run(_run_async(url))


if context.is_offline_mode():
    raise RuntimeError(
        "offline (SQL script) migrations are not supported; run python -m bot migrate"
    )
run_migrations_online()
