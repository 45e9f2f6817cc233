"""PostgreSQL time stamps come back aware and in UTC, whatever time zone the server, the
database or the connection string would give the session."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import column, text
from sqlalchemy.engine import make_url

from app.core.base import UTCDateTime
from app.core.config import Settings
from app.core.db import Database
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="PostgreSQL's sessions only")

TOKYO_NEW_YEAR = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=9)))


async def test_time_stamps_read_in_utc_when_the_connection_asks_for_another_time_zone(
    settings: Settings,
) -> None:
    elsewhere = make_url(settings.database_url).update_query_dict(
        {"options": "-c TimeZone=Asia/Tokyo"}
    )
    database = Database(
        settings.model_copy(
            update={"database_url": elsewhere.render_as_string(hide_password=False)}
        )
    )
    read = text("SELECT CAST(:moment AS timestamptz) AS moment").columns(
        column("moment", UTCDateTime())
    )
    try:
        # A write's transaction, a read's autocommit, and both again on a pooled connection
        # that a rollback has been through.
        for sessions in [database.sessions, database.read_sessions] * 2:
            async with sessions() as session:
                moment = (await session.execute(read, {"moment": TOKYO_NEW_YEAR})).scalar_one()
                await session.rollback()
            assert moment.tzinfo is UTC
            assert moment == TOKYO_NEW_YEAR
            assert moment.hour == 15
    finally:
        await database.dispose()
