"""Engine, sessions and the one-unit-of-work-per-request dependency."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.core.config import Settings


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    options: dict[str, Any] = {}
    if settings.is_sqlite:
        options["connect_args"] = {"timeout": 10}
    else:
        options.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(settings.database_url, **options)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    The dependency is function-scoped, so FastAPI closes it after the handler has built its
    response but before a byte of it goes out: a failed commit still reaches the client as an
    error instead of a false success.
    """
    database: Database = request.app.state.database
    async with database.sessions() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]
