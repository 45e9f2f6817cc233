"""A live server on the test database, for tests that need requests to run truly in parallel."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.core.config import Settings
from tests.reliability.server import LiveServer, running

# Two worker processes, each with its own connection pool: concurrent requests race in the
# database exactly as they would in production, not merely interleave on one event loop.
WORKERS = 2


@pytest.fixture(scope="module")
def live(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(settings.database_url, tmp_path_factory.mktemp("live"), workers=WORKERS)
    with running(server):
        yield server
    server.assert_no_server_errors()


@pytest.fixture(scope="module")
async def live_client(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=live.url, limits=limits, timeout=60) as client:
        yield client
