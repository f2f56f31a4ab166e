"""What ``python -m bot run`` and ``migrate`` check before they start, each problem turned into
one line for the operator that says what to set or fix (the command then exits with code 2)."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from collections.abc import Iterator

from sqlalchemy.engine import make_url

from bot.config import ConfigError, Settings

log = logging.getLogger("bot")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (SQLAlchemy's ``orig``) and what caused it."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([getattr(current, "orig", None), current.__cause__, current.__context__])


def database_problem(exc: BaseException, settings: Settings) -> ConfigError | None:
    """The operator's one line for a database that cannot be used, or None if ``exc`` is not
    such a problem (then it is a bug, and its traceback is worth showing)."""
    url = make_url(settings.database_url)
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    if url.get_backend_name() == "sqlite":
        where = settings.sqlite_file
        for e in chain:
            message = str(e).lower()
            unusable = isinstance(e, sqlite3.DatabaseError) and any(
                words in message
                for words in ("unable to open", "readonly", "read-only", "not a database",
                              "disk i/o", "malformed", "permission")
            )  # fmt: skip
            if (
                unusable
                or isinstance(e, PermissionError)
                or (isinstance(e, OSError) and e.errno is not None)
            ):
                return ConfigError(
                    f"Cannot open or write the SQLite database at {where} ({type(e).__name__}: "
                    f"{_short(e)}). Make its folder writable for this user, or set DATABASE_URL "
                    "to a file in a writable folder."
                )
        return None
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    database = url.database or url.username or ""
    if "InvalidCatalogNameError" in names:
        return ConfigError(
            f"The PostgreSQL database '{database}' does not exist on {host}. Create it "
            f"(createdb {database}) or set DATABASE_URL to an existing one."
        )
    if names & {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return ConfigError(
            f"PostgreSQL at {host} refused the user '{url.username or ''}'. Check the user and "
            "password in DATABASE_URL."
        )
    for e in chain:
        if isinstance(e, socket.gaierror):
            return ConfigError(
                f"The PostgreSQL host '{url.host}' in DATABASE_URL is not known. Check the host."
            )
        if isinstance(e, OSError | TimeoutError) or type(e).__name__ in {
            "ConnectionDoesNotExistError",
            "CannotConnectNowError",
            "TooManyConnectionsError",
        }:
            return ConfigError(
                f"Could not connect to PostgreSQL at {host} ({type(e).__name__}). Check that "
                "the server is running and reachable, and DATABASE_URL."
            )
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def prepare_database(settings: Settings) -> None:
    """Bring the database to the migrations' head, or raise the operator's one line. A database
    already at head is left as it is, without loading Alembic."""
    from db.migrate import at_head, upgrade

    where = settings.sqlite_file
    if where is not None:
        log.info("database: SQLite file %s", where)
        folder = where.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise ConfigError(
                f"Cannot create the folder {folder} for the SQLite database: a file is in the "
                "way. Move it, or set DATABASE_URL to a file in another folder."
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the folder {folder} for the SQLite database "
                f"({exc.strerror or type(exc).__name__}). Create it, or set DATABASE_URL to a "
                "file in a writable folder."
            ) from None
        if not os.access(folder, os.W_OK):
            raise ConfigError(
                f"The folder {folder} of the SQLite database is not writable for this user. "
                "Fix its permissions, or set DATABASE_URL to a file in a writable folder."
            )
    else:
        url = make_url(settings.database_url)
        log.info("database: PostgreSQL at %s:%s/%s", url.host, url.port or 5432, url.database)
    if at_head(settings.database_url):
        return
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        problem = database_problem(exc, settings)
        if problem is None:
            raise
        raise problem from None
