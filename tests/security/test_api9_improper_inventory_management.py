"""API9:2023 Improper Inventory Management.

The committed spec (openapi/openapi.json) is the inventory. Every route the app serves is in it
(apart from the spec and docs pages themselves), every operation in it is served, the API lives
under one version prefix, and nothing answers outside that inventory: no unversioned or other-
version aliases, no leftover debug or admin endpoints, no second copy of the spec. That the
served spec equals the committed one is tests/core/test_openapi.py.
"""

import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from app.main import create_app
from tests.security.helpers import SPEC, assert_problem, fill, spec_operations

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
UNVERSIONED = {"/healthz", "/readyz", "/metrics"}
ANY_ID = "00000000-0000-0000-0000-000000000001"


def _served(app: FastAPI) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[str]]:
    """(METHOD, path) of every documented and every hidden API route, and the other paths."""
    api, hidden, other = set(), set(), set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format or context.path
        if isinstance(route, APIRoute):
            (api if route.include_in_schema else hidden).update(
                (method, path) for method in context.methods or ()
            )
        else:
            other.add(path)
    return api, hidden, other


async def test_every_served_route_is_in_the_inventory_and_the_reverse(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    api, hidden, other = _served(app)
    assert api, "no routes found: the route walk is broken"
    assert api == set(spec_operations())
    assert other == DOCS, "a route outside the API and its docs"
    # A route left out of the spec may only refuse: it exists to answer 405, not to serve.
    for method, path in sorted(hidden):
        url = fill(path, dict.fromkeys(re.findall(r"\{(\w+)\}", path), ANY_ID))
        assert_problem(await client.request(method, url), 405)


def test_the_inventory_does_not_depend_on_the_environment(app: FastAPI) -> None:
    from app.core.config import Environment
    from tests.conftest import make_settings

    served = {
        env: _served(create_app(make_settings(app.state.settings.database_url, env=env)))
        for env in Environment
    }
    assert len({repr([sorted(routes) for routes in found]) for found in served.values()}) == 1


def test_the_api_lives_under_one_version_prefix() -> None:
    assert SPEC["info"]["version"].split(".")[0] == "1", "the /v1 API is version 1.x"
    outside = {path for path in SPEC["paths"] if not path.startswith("/v1/")}
    assert outside == UNVERSIONED
    assert all(
        re.fullmatch(r"/v1(/[a-z-]+|/\{[a-z_]+\})+", path)
        for path in SPEC["paths"]
        if path.startswith("/v1/")
    )
    for operations in SPEC["paths"].values():
        for operation in operations.values():
            assert not operation.get("deprecated"), operation["operationId"]
            assert operation.get("tags"), f"{operation['operationId']} belongs to no area"


def _aliases(path: str) -> list[str]:
    rest = path.removeprefix("/v1")
    return [
        rest,
        f"/v0{rest}",
        f"/v2{rest}",
        f"/api{rest}",
        f"/api/v1{rest}",
        f"/v1.0{rest}",
        f"/V1{rest}",
        f"/latest{rest}",
    ]


@pytest.mark.parametrize(
    "path",
    sorted(
        {
            fill(p, dict.fromkeys(re.findall(r"\{(\w+)\}", p), ANY_ID))
            for p in SPEC["paths"]
            if p.startswith("/v1/")
        }
    ),
)
async def test_no_other_version_or_alias_of_a_route_answers(
    client: httpx.AsyncClient, path: str
) -> None:
    for alias in _aliases(path):
        response = await client.get(alias)
        assert_problem(response, 404)


@pytest.mark.parametrize(
    "path",
    [
        "/admin",
        "/debug",
        "/v1/debug",
        "/v1/internal",
        "/v1/admin",
        "/graphql",
        "/actuator/health",
        "/server-status",
        "/.env",
        "/.git/config",
        "/swagger.json",
        "/openapi.yaml",
        "/v1/openapi.json",
        "/api-docs",
        "/docs/swagger.json",
        "/static/",
        "/v1/test",
    ],
)
async def test_no_leftover_endpoints_answer(client: httpx.AsyncClient, path: str) -> None:
    for method in ("GET", "POST"):
        assert_problem(await client.request(method, path), 404)
