"""Engine, sessions and the one-unit-of-work-per-request dependency."""

import select
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pydantic_core
from fastapi import Depends, Request
from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError, InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.core.config import Settings

SQLITE_BEGIN = "sqlite_begin"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDLE_BEFORE_PING_SECONDS = 10.0
_RETURNED_AT = "returned_at"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Take BEGIN over from the driver, so that a transaction that will write can say so first.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    # SQLite's own lower() changes A-Z only, so a search for "école" missed "École". Both
    # the search text and the column go through it (`partners.repository`), so either
    # database lowers the two sides alike. No index of ours is on lower() in SQLite.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _postgresql_utc(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Whatever the server or database defaults to: ``UTCDateTime`` relies on it to read
    ``timestamptz`` values as they come."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    # Committed, or the first rollback would take the setting back.
    dbapi_connection.commit()


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE for requests that write: SQLite then serialises writers from their
    first read, so a check followed by a write (an open review, a capacity count) cannot
    interleave with another writer's. Reads keep plain BEGIN and never wait."""
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _returned(_dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
    record.info[_RETURNED_AT] = time.monotonic()


def _has_input(record: ConnectionPoolEntry) -> bool:
    """Whether an idle connection has something to read: it has, once the server has closed
    it (a restart, ``pg_terminate_backend``, ``idle_session_timeout``)."""
    connection: Any = record.driver_connection
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _ping_suspects(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only if it looks dead or has been idle a while.

    ``pool_pre_ping`` pings on every checkout: a round trip, about 12 % of a partner read.
    Asking the socket whether the server hung up costs a system call and still catches a
    restart before a request fails; a long-idle connection is pinged too, as a peer that
    vanished without closing anything looks alive. One that dies between the check and its
    use fails its request with a 503 (``OperationalError``, ``app.core.errors``), and
    SQLAlchemy then invalidates the pool, as it does for a request in flight at a restart.
    """
    dialect = engine.dialect

    def check(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None:  # a new connection
            return
        try:
            if time.monotonic() - returned_at > IDLE_BEFORE_PING_SECONDS or _has_input(record):
                dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # As pool_pre_ping does: one dead connection means the others are dead too.
            raise InvalidatePoolError(str(error)) from error

    event.listen(engine.sync_engine, "checkin", _returned)
    event.listen(engine.sync_engine, "checkout", check)


def _json_text(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    # JSON columns through pydantic-core rather than the json module: a stored match's answer
    # (about 15 KB) is written 3.4 times and read twice as fast, and every audit event is JSON.
    options: dict[str, Any] = {
        "json_serializer": _json_text,
        "json_deserializer": pydantic_core.from_json,
    }
    if settings.is_sqlite:
        options["connect_args"] = {"timeout": 10}
    else:
        options.update(
            pool_size=settings.database_pool_size,
            max_overflow=0,
            pool_timeout=settings.database_pool_timeout_seconds,
        )
    engine = create_async_engine(settings.database_url, **options | overrides)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        event.listen(engine.sync_engine, "connect", _postgresql_utc)
        _ping_suspects(engine)
    return engine


class Database:
    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # At READ COMMITTED, PostgreSQL's default and ours, every statement takes its own
        # snapshot in a transaction or out of one: for a read request, BEGIN and COMMIT are
        # two round trips that buy nothing. Its one write, an API key's last use, commits on
        # its own. So read requests get a pool of their own, opened in autocommit: switching
        # a pooled connection to autocommit and back cost 7 % of a partner read, and a burst
        # of reads cannot take every connection that writes need. SQLite keeps one engine and
        # the transaction: there a transaction's snapshot spans its statements.
        self.read_engine = (
            self.engine
            if settings.is_sqlite
            else create_engine(settings, isolation_level="AUTOCOMMIT")
        )
        self.read_sessions = async_sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False
        )

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request (reads on PostgreSQL excepted, see ``Database``), committed
    before the response is sent.

    The dependency is function-scoped, so FastAPI closes it after the handler has built its
    response but before a byte of it goes out: a failed commit still reaches the client as an
    error instead of a false success.
    """
    database: Database = request.app.state.database
    reads = request.method in READ_ONLY_METHODS
    async with (database.read_sessions if reads else database.sessions)() as session:
        if not reads:
            await session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


async def flush_or_raise(session: AsyncSession, error: Exception) -> None:
    """Flush what the session holds, raising ``error`` if a key or constraint refuses it.

    For a row that must be unique: the index decides, not a look first, because two requests
    at once both find nothing and the second would meet the index as a 500. The error ends
    the request, whose transaction then rolls back (``unit_of_work``).
    """
    try:
        await session.flush()
    except IntegrityError:
        raise error from None
