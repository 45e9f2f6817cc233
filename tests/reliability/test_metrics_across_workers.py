"""/metrics on a live server with two workers sums what every worker counted."""

import asyncio

import httpx

from tests.conftest import TEST_METRICS_TOKEN
from tests.core.test_metrics import Samples, increase, samples
from tests.reliability.conftest import WORKERS
from tests.reliability.server import LiveServer

REQUESTS = 120


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get(
        "/metrics", headers={"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return samples(response.text)


async def test_any_worker_reports_every_workers_counts(
    live: LiveServer, live_client: httpx.AsyncClient
) -> None:
    before = await _scrape(live_client)
    # At once, so that both workers take a share.
    answers = await asyncio.gather(*(live_client.get("/healthz") for _ in range(REQUESTS)))
    assert {answer.status_code for answer in answers} == {200}

    # Each scrape goes to whichever worker takes it; each must report the whole.
    for _ in range(2 * WORKERS):
        after = await _scrape(live_client)
        counted = increase(
            before,
            after,
            "registry_http_requests_total",
            method="GET",
            route="/healthz",
            status="200",
        )
        assert counted == REQUESTS
        assert after[
            ("registry_match_index_load_seconds_count", frozenset({("kind", "start")}))
        ] == (WORKERS)
