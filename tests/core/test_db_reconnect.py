"""Pooled PostgreSQL connections that the server has closed are replaced before use."""

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.db import Database
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="PostgreSQL's pool only")


async def test_a_connection_the_server_closed_is_replaced_without_a_failed_request(
    settings: Settings,
) -> None:
    database = Database(settings)

    async def server_process() -> int:
        async with database.sessions() as session:
            await session.connection(execution_options=database.read_options)
            pid: int = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            return pid

    try:
        closed = await server_process()
        admin_url = make_url(settings.database_url).set(drivername="postgresql")
        with psycopg.connect(admin_url.render_as_string(hide_password=False)) as admin:
            # As a restart does: the server ends the session and closes the socket.
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (closed,))
        assert await server_process() != closed
    finally:
        await database.dispose()
