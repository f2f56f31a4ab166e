"""The async engine and session factory: one of each per process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session


class UnitSession(Session):
    """The sessions of this bot: a class of their own, so listeners (the processed-updates record
    in ``bot.updates``) apply to them and to no other session in the process."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file so a fresh clone runs without set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL with synchronous=NORMAL: commits stop waiting for the disk yet survive a process crash.
    # foreign_keys makes ON DELETE CASCADE work, which deleting a person's data relies on.
    # The driver's own transaction handling is turned off so that _begin_immediate decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def write_lock_at_begin(engine: AsyncEngine) -> None:
    """Make every transaction of this SQLite engine take the write lock at BEGIN: one that
    reads and then writes waits for another writer instead of failing. (Used alone, without the
    pragmas, by the migrations: SQLite's table rebuilds need foreign keys off.)"""
    event.listen(engine.sync_engine, "connect", _driver_leaves_transactions_to_us)
    event.listen(engine.sync_engine, "begin", _begin_immediate)


def _begin_immediate(connection: Any) -> None:
    # A transaction that reads and then writes (most here do) fails at once with "database is
    # locked" when another connection wrote in between. Taking the write lock at BEGIN makes it
    # wait (busy_timeout) instead: the sweep and the handlers share one SQLite file safely.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets its folder and its pragmas."""
    ensure_sqlite_folder(url)
    if is_sqlite(url) and make_url(url).database not in (None, "", ":memory:"):
        # One connection, queued for in the order asked: SQLite lets one writer in at a time,
        # and its own busy wait is not fair (under load a waiter can be passed over until
        # busy_timeout runs out). Transactions here are short and never wait on the network.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=UnitSession)
