"""/metrics on a live server with two workers reports what every worker counted."""

import asyncio
import time

import httpx

from tests.conftest import TEST_METRICS_TOKEN
from tests.core.test_metrics import Samples, increase, samples
from tests.reliability.conftest import WORKERS
from tests.reliability.server import LiveServer

REQUESTS = 120
# Each worker loads its match index once, at start: one worker alone would report one load.
START_LOADS = ("registry_match_index_load_seconds_count", frozenset({("kind", "start")}))


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get(
        "/metrics", headers={"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return samples(response.text)


async def _every_worker_loaded(client: httpx.AsyncClient) -> Samples:
    """The server is ready when one worker is; the other may still be loading its index."""
    deadline = time.monotonic() + 30
    while (scraped := await _scrape(client)).get(START_LOADS) != WORKERS:
        assert time.monotonic() < deadline, f"start loads reported: {scraped.get(START_LOADS)}"
        await asyncio.sleep(0.1)
    return scraped


async def test_any_worker_reports_every_workers_counts(
    live: LiveServer, live_client: httpx.AsyncClient
) -> None:
    before = await _every_worker_loaded(live_client)
    # At once, so that both workers take a share.
    answers = await asyncio.gather(*(live_client.get("/healthz") for _ in range(REQUESTS)))
    assert {answer.status_code for answer in answers} == {200}

    # Each scrape goes to whichever worker takes it; each must report the whole.
    for _ in range(2 * WORKERS):
        after = await _scrape(live_client)
        assert after[START_LOADS] == WORKERS
        counted = increase(
            before,
            after,
            "registry_http_request_duration_seconds_count",
            method="GET",
            route="/healthz",
            status="200",
        )
        assert counted == REQUESTS
