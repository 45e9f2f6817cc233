"""GET /metrics: off without its token, its own credential, requests counted by route template.

The counts are the process's own (one app instance stands for one worker), shared by every app
the test session makes, so each test compares a scrape before its requests with one after.
`tests/reliability/test_metrics_across_workers.py` checks the sum over a live server's workers.
"""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app.core.config import ConfigurationError, Settings, load_settings
from app.main import create_app
from tests.conftest import TEST_METRICS_TOKEN, make_settings
from tests.factories import Actors, create_needs, force_partner_state
from tests.matching.test_matches_api import _district, _match, _partner

SCRAPE = {"Authorization": f"Bearer {TEST_METRICS_TOKEN}"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def increase(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    return samples(response.text)


@pytest.fixture
async def metered(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(settings.database_url, metrics_token=TEST_METRICS_TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield app, client
    await app.state.database.dispose()


async def test_metrics_are_off_until_a_token_is_set(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "REGISTRY_METRICS_TOKEN" in response.json()["detail"]


async def test_metrics_take_their_own_token_and_no_other(
    metered: tuple[FastAPI, httpx.AsyncClient], actors: Actors
) -> None:
    _app, client = metered
    for headers in ({}, {"Authorization": f"Bearer {TEST_METRICS_TOKEN}x"}, actors.admin.headers):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    served = await client.get("/metrics", headers=SCRAPE)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert served.headers["Cache-Control"] == "no-store"


async def test_requests_are_counted_by_method_route_template_and_status(
    metered: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _app, client = metered
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    assert (await client.head("/healthz")).status_code == 200
    for _ in range(2):
        assert (await client.get(f"/v1/partners/{uuid.uuid4()}")).status_code == 401
    assert (await client.get(f"/nowhere/{uuid.uuid4()}")).status_code == 404
    assert (await client.request("BREW", "/healthz")).status_code == 405
    after = await scrape(client)

    def requests(method: str, route: str, status: str) -> float:
        return increase(
            before,
            after,
            "registry_http_request_duration_seconds_count",
            method=method,
            route=route,
            status=status,
        )

    assert requests("GET", "/healthz", "200") == 3
    assert requests("HEAD", "/healthz", "200") == 1
    assert requests("GET", "/v1/partners/{partner_id}", "401") == 2
    assert requests("GET", "(none)", "404") == 1
    assert requests("(other)", "/healthz", "405") == 1
    timed = increase(
        before,
        after,
        "registry_http_request_duration_seconds_bucket",
        method="GET",
        route="/healthz",
        status="200",
        le="+Inf",
    )
    assert timed == 3  # every one of them in the last, cumulative bucket


async def test_match_index_loads_are_counted(
    app: FastAPI,
    client: httpx.AsyncClient,
    actors: Actors,
    metered: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _metered_app, other = metered
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region)
    profile = await create_needs(client, user, district_id)

    before = await scrape(other)
    await _match(other, user, needs_id=profile["id"])
    loaded = await scrape(other)
    await force_partner_state(app, partner_id, capacity=7)
    await _match(other, user, needs_id=profile["id"])
    reloaded = await scrape(other)

    seconds = "registry_match_index_load_seconds_count"
    partners = "registry_match_index_partners_loaded_total"
    assert increase(before, loaded, seconds, kind="start") == 1
    assert increase(before, loaded, partners, kind="start") >= 1
    assert increase(loaded, reloaded, seconds, kind="changes") == 1
    assert increase(loaded, reloaded, partners, kind="changes") == 1


def test_a_short_metrics_token_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_METRICS_TOKEN", "too-short")
    with pytest.raises(ConfigurationError, match="REGISTRY_METRICS_TOKEN"):
        load_settings()
