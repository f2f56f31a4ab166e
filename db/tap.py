"""The common tap's one transaction, on the database driver itself; the ordinary last tap's too.

Most taps on a check-in run the same three statements: record the update (so a redelivery is
not applied twice), read the check-in with its owner, and write the new state under a version
check. The last answer of an ordinary check-in (no advice given on it) adds up to four: it
reads the earlier complete check-ins with their symptoms (for the rules that need history) and
the tips shown after the last one, and its write closes the check-in under the same version
check, then inserts its answers rows and the tips shown now (one executemany each). Through
SQLAlchemy's async ORM session those cost several times what the statements themselves cost
(the session, the unit of work, and a hand-off through SQLAlchemy's greenlet bridge per call;
on SQLite three hand-offs to aiosqlite's thread per statement, here one). So this module runs
them on the pooled connection's own driver (asyncpg, or aiosqlite for SQLite) with SQL written
once (``?`` placeholders, numbered for asyncpg). It stays in step with the ORM in two ways: the
connection comes from the engine's pool (on SQLite its single connection, so writers stay
queued in the order they asked), and every value goes through the same SQLAlchemy column types
as the ORM's (UTC instants, JSON), so both paths read and write the very same rows. A
connection goes back to the pool only when it is known to be outside a transaction; after a
cancelled call it is closed instead.

Everything less common (a cancel, a check-in left too long, an escalation, whether decided on
the answer or by the history rules at the end, a check-in closed by emergency advice) is the
ORM path's work: the caller rolls this transaction back and goes there. A connection the
server dropped is thrown away with the pool's others and reported as :class:`Unavailable`, so
the caller can go there too, on a fresh connection, instead of every transaction paying a
"pre-ping" round trip. A cancellation is never turned into anything else."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import TypeEngine

from db.models import CheckIn, ProcessedUpdate
from db.repo.checkins import COMPLETE

log = logging.getLogger(__name__)


class Duplicate(Exception):
    """The update was recorded before: this transaction rolled back."""


class Unavailable(Exception):
    """The connection failed (the server dropped it); it was thrown away, nothing was stored."""


@dataclass(frozen=True)
class Owned:
    """A check-in with what the tap needs of its owner."""

    checkin_id: int
    user_id: int
    status: str
    step: str
    state: dict[str, Any]
    updated_at: datetime
    version: int
    message_id: int | None
    pain_score: int | None
    language: str
    bone_risk: bool | None
    immunosuppressed: bool | None
    cancer_history: bool | None


class Earlier(NamedTuple):
    """An earlier complete check-in, as the rules that need history see it."""

    checkin_id: int
    at: datetime
    """When it finished."""
    pain_score: int | None
    answers: set[str]
    """Its values of the one question asked for."""


_RECORD = "INSERT INTO processed_updates (bot_id, update_id, at) VALUES (?, ?, ?)"
_OWNED = (
    "SELECT c.user_id, c.status, c.step, c.state, c.updated_at, c.version, c.message_id, "
    "c.pain_score, u.language, u.bone_risk, u.immunosuppressed, u.cancer_history "
    "FROM checkins AS c JOIN users AS u ON u.id = c.user_id "
    "WHERE c.id = ? AND u.telegram_id = ?"
)
_UPDATE = (
    "UPDATE checkins SET step = ?, state = ?, updated_at = ?, pain_score = ?, version = ?, "
    "status = ?, finished_at = ? WHERE id = ? AND version = ? AND status = ?"
)
# What ``db.repo.checkins.recent_complete`` reads with ``since`` (the newest ``limit``, by the
# finish, then the id), joined to the answers to one question only: a row per answer (one with
# a NULL value for a check-in without any), newest check-in first.
_EARLIER = (
    "SELECT c.id, c.finished_at, c.pain_score, a.value FROM ("
    "SELECT id, finished_at, pain_score FROM checkins "
    "WHERE user_id = ? AND status = ? AND id <> ? AND finished_at >= ? "
    "ORDER BY finished_at DESC, id DESC LIMIT ?"
    ") AS c LEFT JOIN checkin_answers AS a ON a.checkin_id = c.id AND a.question = ? "
    "ORDER BY c.finished_at DESC, c.id DESC"
)
# The tips shown after the given check-in or, with none given, after the newest complete one
# but this (``recent_complete(..., 1, exclude=...)``, then ``snippet_ids_of``).
_SHOWN = (
    "SELECT snippet_id FROM snippet_deliveries WHERE checkin_id = COALESCE(?, ("
    "SELECT id FROM checkins WHERE user_id = ? AND status = ? AND id <> ? "
    "ORDER BY finished_at DESC, id DESC LIMIT 1))"
)
_ANSWER = "INSERT INTO checkin_answers (checkin_id, question, value) VALUES (?, ?, ?)"
_DELIVERY = (
    "INSERT INTO snippet_deliveries (user_id, checkin_id, snippet_id, delivered_at) "
    "VALUES (?, ?, ?, ?)"
)


@cache
def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, ...``."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], 1)) + parts[-1]


class _Driver(Protocol):
    async def begin(self) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    async def row(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None: ...
    async def rows(self, sql: str, args: tuple[Any, ...]) -> Sequence[Sequence[Any]]: ...
    async def run(self, sql: str, args: tuple[Any, ...]) -> int: ...
    async def many(self, sql: str, args: Sequence[tuple[Any, ...]]) -> None: ...
    def closed(self) -> bool: ...


class _Sqlite:
    """aiosqlite: one hand-off to its thread per statement."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def begin(self) -> None:
        # As every transaction of this bot on SQLite: the write lock is taken at BEGIN, so a
        # transaction that reads and then writes waits for another writer instead of failing.
        await self.connection.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        await self.connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self.connection.execute("ROLLBACK")

    async def row(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = await self.connection.execute_fetchall(sql, args)
        return tuple(rows[0]) if rows else None

    async def rows(self, sql: str, args: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        return list(await self.connection.execute_fetchall(sql, args))

    async def run(self, sql: str, args: tuple[Any, ...]) -> int:
        cursor = await self.connection.execute(sql, args)
        return int(cursor.rowcount)

    async def many(self, sql: str, args: Sequence[tuple[Any, ...]]) -> None:
        await self.connection.executemany(sql, args)

    def closed(self) -> bool:
        return False  # a file: nothing can drop it


class _Postgres:
    """asyncpg: statements prepared once per connection by its own statement cache. BEGIN and
    COMMIT are plain statements: asyncpg's Transaction objects keep state of their own on the
    connection, which a cancelled call could leave behind."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def begin(self) -> None:
        await self.connection.execute("BEGIN")

    async def commit(self) -> None:
        await self.connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self.connection.execute("ROLLBACK")

    async def row(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        record = await self.connection.fetchrow(_numbered(sql), *args)
        return tuple(record) if record is not None else None

    async def rows(self, sql: str, args: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        return list(await self.connection.fetch(_numbered(sql), *args))

    async def run(self, sql: str, args: tuple[Any, ...]) -> int:
        status = await self.connection.execute(_numbered(sql), *args)
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1"

    async def many(self, sql: str, args: Sequence[tuple[Any, ...]]) -> None:
        # One round trip for all the rows (atomic, and inside this transaction anyway).
        await self.connection.executemany(_numbered(sql), args)

    def closed(self) -> bool:
        return bool(self.connection.is_closed())


Processor = Callable[[Any], Any]


def _processors(dialect: Dialect, kind: TypeEngine[Any]) -> tuple[Processor, Processor]:
    """(to the database, from the database) for one column type, as the ORM converts it."""
    impl = kind.dialect_impl(dialect)
    to_db = impl.bind_processor(dialect)
    from_db = impl.result_processor(dialect, None)
    return (to_db or (lambda v: v)), (from_db or (lambda v: v))


class TapTransaction:
    def __init__(self, store: TapStore, driver: _Driver) -> None:
        self.store = store
        self.driver = driver

    async def owned(self, checkin_id: int, telegram_id: int) -> Owned | None:
        """The check-in if it is this person's."""
        s = self.store
        row = await self.driver.row(_OWNED, (checkin_id, telegram_id))
        if row is None:
            return None
        user_id, status, step, state, updated_at, version, message_id, pain, lang, *profile = row
        bone_risk, immunosuppressed, cancer_history = (
            None if v is None else bool(v) for v in profile
        )
        return Owned(
            checkin_id=checkin_id,
            user_id=user_id,
            status=status,
            step=step,
            state=s.state_from_db(state),
            updated_at=s.instant_from_db(updated_at),
            version=version,
            message_id=message_id,
            pain_score=pain,
            language=lang,
            bone_risk=bone_risk,
            immunosuppressed=immunosuppressed,
            cancer_history=cancer_history,
        )

    async def save(
        self,
        owned: Owned,
        *,
        step: str,
        state: dict[str, Any],
        now: datetime,
        pain_score: int | None,
    ) -> bool:
        """Write the new state if nobody changed the row since it was read (the same version
        check as ``db.repo.checkins.save_state``). False when it moved on meanwhile."""
        return await self._update(owned, step, state, now, pain_score, owned.status, None)

    async def _update(
        self,
        owned: Owned,
        step: str,
        state: dict[str, Any],
        now: datetime,
        pain_score: int | None,
        status: str,
        finished_at: datetime | None,
    ) -> bool:
        s = self.store
        changed = await self.driver.run(
            _UPDATE,
            (
                step,
                s.state_to_db(state),
                s.instant_to_db(now),
                pain_score,
                owned.version + 1,
                status,
                s.instant_to_db(finished_at) if finished_at is not None else None,
                owned.checkin_id,
                owned.version,
                owned.status,
            ),
        )
        return changed == 1

    async def earlier(
        self, owned: Owned, *, since: datetime, limit: int, question: str
    ) -> list[Earlier]:
        """The owner's newest ``limit`` complete check-ins but this one, finished since
        ``since``, newest first, each with its answers to ``question``: what
        ``db.repo.checkins.recent_complete`` reads (with the answers it loads), in one
        statement."""
        s = self.store
        rows = await self.driver.rows(
            _EARLIER,
            (owned.user_id, COMPLETE, owned.checkin_id, s.instant_to_db(since), limit, question),
        )
        found: dict[int, Earlier] = {}
        for checkin_id, finished_at, pain, value in rows:
            checkin = found.get(checkin_id)
            if checkin is None:
                at = s.instant_from_db(finished_at)
                checkin = found[checkin_id] = Earlier(checkin_id, at, pain, set())
            if value is not None:
                checkin.answers.add(value)
        return list(found.values())

    async def shown(self, owned: Owned, last: int | None) -> list[str]:
        """The snippet ids shown after check-in ``last`` or, if None, after the owner's newest
        complete check-in but this one (none if there is none)."""
        rows = await self.driver.rows(_SHOWN, (last, owned.user_id, COMPLETE, owned.checkin_id))
        return [row[0] for row in rows]

    async def finish(
        self,
        owned: Owned,
        *,
        step: str,
        state: dict[str, Any],
        now: datetime,
        pain_score: int | None,
        answers: Collection[tuple[str, str]],
        snippets: Collection[str],
    ) -> bool:
        """Close the check-in as complete if nobody changed the row since it was read (the
        version check of :meth:`save`), then write its ``(question, value)`` answers rows and
        the snippets shown now. False (and nothing written) when it moved on meanwhile.

        Unlike ``db.repo.checkins.write_answers`` no rows are deleted first: an open check-in
        has none (they are written when it closes, and a closed one never opens again)."""
        if not await self._update(owned, step, state, now, pain_score, COMPLETE, now):
            return False
        checkin_id = owned.checkin_id
        if answers:
            await self.driver.many(_ANSWER, [(checkin_id, q, v) for q, v in answers])
        if snippets:
            at = self.store.instant_to_db(now)
            user_id = owned.user_id
            await self.driver.many(_DELIVERY, [(user_id, checkin_id, i, at) for i in snippets])
        return True


class TapStore:
    """Transactions for the common tap and the ordinary last one, on ``engine``'s pooled
    connections."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.sqlite = dialect.name == "sqlite"
        self.state_to_db, self.state_from_db = _processors(dialect, CheckIn.__table__.c.state.type)
        self.instant_to_db, self.instant_from_db = _processors(
            dialect, ProcessedUpdate.__table__.c.at.type
        )

    @asynccontextmanager
    async def begin(
        self, record: tuple[int, int, datetime] | None
    ) -> AsyncIterator[TapTransaction]:
        """One transaction: first the update's record (``(bot id, update id, at)``, if it is
        still to be written; :class:`Duplicate` if it was written before), then the block's
        work. Committed when the block ends, rolled back if it raises."""
        async with self.engine.connect() as connection:
            driver = await self._driver(connection)
            settled = False  # known outside a transaction: committed, rolled back, never begun
            try:
                try:
                    await driver.begin()
                except Exception:
                    settled = True  # nothing began (a drop is told apart below)
                    raise
                try:
                    if record is not None:
                        await self._record(driver, record)
                    yield TapTransaction(self, driver)
                except BaseException as failure:
                    try:
                        await driver.rollback()
                        settled = True
                    except Exception as error:
                        if isinstance(failure, Exception):
                            raise error from failure
                    raise  # as it came: a cancellation stays a cancellation
                await driver.commit()
                settled = True
            except Exception as error:
                if _is_dropped(error) or driver.closed():
                    name = type(error).__name__
                    log.warning("database connection lost (%s); pool replaced", name)
                    settled = True
                    await connection.invalidate()
                    await self.engine.dispose(close=False)
                    raise Unavailable() from error
                raise
            finally:
                if not settled:
                    # Cancelled mid-call, or a rollback that failed: the transaction may still
                    # be open on the server. The connection is closed, never pooled like that.
                    await connection.invalidate()

    async def _driver(self, connection: AsyncConnection) -> _Driver:
        raw = (await connection.get_raw_connection()).driver_connection
        return _Sqlite(raw) if self.sqlite else _Postgres(raw)

    async def _record(self, driver: _Driver, record: tuple[int, int, datetime]) -> None:
        bot_id, update_id, at = record
        try:
            await driver.run(_RECORD, (bot_id, update_id, self.instant_to_db(at)))
        except Exception as error:
            if _is_duplicate(error):
                raise Duplicate(update_id) from None
            raise


@cache
def _asyncpg_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(a unique key violated, the connection failed) as asyncpg raises them; imported on
    first use, so a bot on SQLite never loads asyncpg."""
    from asyncpg import exceptions  # type: ignore[import-untyped]

    return (exceptions.UniqueViolationError,), (
        exceptions.ConnectionDoesNotExistError,  # closed under asyncpg's feet
        exceptions.InternalClientError,  # the protocol found the connection lost mid-call
        exceptions.PostgresConnectionError,  # SQLSTATE class 08
        exceptions.AdminShutdownError,  # terminated by an administrator or a restart
        exceptions.CrashShutdownError,
        exceptions.CannotConnectNowError,  # the server is starting or stopping
    )


def _is_duplicate(error: BaseException) -> bool:
    if isinstance(error, sqlite3.IntegrityError):
        return True
    return isinstance(error, _asyncpg_errors()[0])


def _is_dropped(error: BaseException) -> bool:
    """The connection itself failed (rather than a statement, or a timeout)."""
    if isinstance(error, ConnectionError):
        return True
    return isinstance(error, _asyncpg_errors()[1])
