"""The PostgreSQL pool: a connection the server closed is replaced before use, and a request
that finds every connection busy gets a 503."""

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.db import Database
from app.main import create_app
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="PostgreSQL's pool only")


@pytest.mark.parametrize("pool", ["sessions", "read_sessions"])
async def test_a_connection_the_server_closed_is_replaced_without_a_failed_request(
    settings: Settings, pool: str
) -> None:
    database = Database(settings)
    sessions = getattr(database, pool)

    async def server_process() -> int:
        async with sessions() as session:
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


async def test_a_request_that_finds_every_pooled_connection_busy_gets_a_503_not_a_500(
    settings: Settings,
) -> None:
    busy = settings.model_copy(
        update={"database_pool_size": 1, "database_pool_timeout_seconds": 0.2}
    )
    app = create_app(busy)
    transport = httpx.ASGITransport(app=app)
    unknown_key = {"Authorization": "Bearer rk_no-such-key"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with app.state.database.read_engine.connect() as held:
                await held.execute(text("SELECT 1"))
                waited = await client.get("/v1/partners", headers=unknown_key)
                # Writes have connections of their own: a burst of reads cannot starve them.
                written = await client.post("/v1/users", headers=unknown_key, json={})
            served = await client.get("/v1/partners", headers=unknown_key)
    finally:
        await app.state.database.dispose()
    assert waited.status_code == 503
    assert waited.headers["content-type"] == "application/problem+json"
    assert waited.headers["retry-after"] == "1"
    assert written.status_code == 401
    # The connection back in the pool, the same request reaches the key check.
    assert served.status_code == 401
