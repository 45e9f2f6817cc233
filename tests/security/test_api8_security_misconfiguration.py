"""API8:2023 Security Misconfiguration.

Complements tests/core/test_http_hardening.py (security headers, HSTS in production, trusted
hosts, CORS origins) and tests/core/test_config_and_cli.py (settings that refuse to start):
an unexpected error is a bare 500 problem in every environment, with nothing of the exception
in it; TRACE and unknown methods echo nothing; no answer redirects to the host the client
named; CORS is off unless configured and its refusals are problems like every other error;
errors of every status carry no internals; the public spec and docs reveal no configuration;
token responses are never cached.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Environment, Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.factories import Actors, client_at, make_actor, partner_payload, submit_evidence
from tests.security.helpers import assert_problem

SECRET_DETAIL = "password=hunter2 at /srv/registry/app/partners/service.py line 42"


@pytest.fixture(params=list(Environment))
async def failing_app(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[FastAPI]:
    """The app in each environment, with one route that fails as a bug would."""
    app = create_app(make_settings(settings.database_url, env=request.param))

    async def broken() -> None:
        raise RuntimeError(SECRET_DETAIL)

    app.add_api_route("/v1/broken", broken, methods=["GET"])
    yield app
    await app.state.database.dispose()


async def test_an_unexpected_error_is_a_bare_500_problem_in_every_environment(
    failing_app: FastAPI,
) -> None:
    assert failing_app.debug is False
    transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/v1/broken")
    problem = assert_problem(response, 500)
    for leak in ("hunter2", "RuntimeError", "service.py", "/srv/", "line 42"):
        assert leak not in response.text, leak
    assert set(problem) <= {"type", "title", "status", "detail"}
    # Starlette sends this 500 from outside the app's middleware; it must still be hardened.
    assert response.headers["X-Request-Id"], "the client can quote the logged error"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("method", ["TRACE", "TRACK", "DEBUG", "PROPFIND", "BREW"])
async def test_trace_and_unknown_methods_echo_nothing(
    client: httpx.AsyncClient, actors: Actors, method: str
) -> None:
    marker = "echo-me-if-you-trace"
    for path in ("/v1/partners", "/healthz", "/v1/nowhere"):
        response = await client.request(
            method,
            path,
            headers=actors.admin.headers | {"X-Marker": marker, "Cookie": f"c={marker}"},
            content=marker,
        )
        assert response.status_code in {404, 405}, (method, path)
        assert_problem(response, response.status_code)
        assert marker not in response.text
        assert actors.admin.key not in response.text
        assert response.headers["content-type"] != "message/http"


@pytest.mark.parametrize("path", ["/v1/partners/", "/healthz/", "/v1/directory/", "/docs/"])
async def test_no_answer_redirects_to_the_host_the_client_named(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"Host": "attacker.example.com"})
    assert "location" not in response.headers, response.headers.get("location")
    assert_problem(response, 404)


async def _answers(
    app: FastAPI, *requests: tuple[str, str, dict[str, str]]
) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = [
            await client.request(method, path, headers=headers)
            for method, path, headers in requests
        ]
    await app.state.database.dispose()
    return answers


async def test_cors_is_off_unless_configured(client: httpx.AsyncClient, actors: Actors) -> None:
    origin = {"Origin": "https://district.example.org"}
    preflight = await client.options(
        "/v1/partners", headers=origin | {"Access-Control-Request-Method": "GET"}
    )
    simple = await client.get("/v1/partners", headers=origin | actors.admin.headers)
    for response in (preflight, simple):
        assert not any(name.startswith("access-control-") for name in response.headers), (
            response.headers
        )
    assert_problem(preflight, 405)


async def test_a_refused_cors_preflight_is_a_problem(settings: Settings) -> None:
    allowed = "https://district.example.org"
    app = create_app(make_settings(settings.database_url, cors_origins=[allowed]))
    refused_origin, refused_method, refused_header, fine = await _answers(
        app,
        (
            "OPTIONS",
            "/v1/partners",
            {"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"},
        ),
        ("OPTIONS", "/v1/partners", {"Origin": allowed, "Access-Control-Request-Method": "TRACE"}),
        (
            "OPTIONS",
            "/v1/partners",
            {
                "Origin": allowed,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-Evil",
            },
        ),
        ("OPTIONS", "/v1/partners", {"Origin": allowed, "Access-Control-Request-Method": "PATCH"}),
    )
    for refused in (refused_origin, refused_method, refused_header):
        problem = assert_problem(refused, 400)
        assert "CORS" in problem.get("detail", ""), problem
        assert refused.headers.get("Access-Control-Allow-Origin") != "https://evil.example.com"
    assert "access-control-allow-origin" not in refused_origin.headers
    assert fine.status_code == 200
    assert fine.headers["Access-Control-Allow-Origin"] == allowed


async def test_errors_of_every_kind_carry_no_internals(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    admin = actors.admin.headers
    partner = f"/v1/partners/{actors.partner_record['id']}"
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    answers = {
        400: await client.post(
            "/v1/partners", content=b"{", headers=admin | {"Content-Type": "application/json"}
        ),
        401: await client.get("/v1/partners", headers={"Authorization": "Bearer rk_nope"}),
        403: await client.post("/v1/users", json={}, headers=actors.partner.headers),
        404: await client.get("/v1/partners/00000000-0000-0000-0000-000000000000", headers=admin),
        405: await client.delete("/v1/partners", headers=admin),
        409: await client.post(f"{partner}/status", json={"status": "approved"}, headers=admin),
        412: await client.patch(partner, json={"capacity": 1}, headers=admin | {"If-Match": '"9"'}),
        413: await client.post(
            "/v1/partners",
            content=b"[" + b" " * 2_000_000 + b"]",
            headers=admin | {"Content-Type": "application/json"},
        ),
        415: await client.put(
            f"/v1/evidence/{evidence['id']}/document",
            content=b"x",
            headers=admin | {"Content-Type": "text/plain", "If-Match": '"1"'},
        ),
        422: await client.post("/v1/partners", json=partner_payload(capacity="x"), headers=admin),
        428: await client.patch(partner, json={"capacity": 1}, headers=admin),
    }
    for status, response in answers.items():
        problem = assert_problem(response, status)
        assert "sqlite" not in response.text.lower()
        assert "postgres" not in response.text.lower()
        for issue in problem.get("errors", []):
            assert set(issue) == {"loc", "msg", "type"}, "no echoed input, no internal context"


async def test_the_public_spec_and_docs_reveal_no_configuration(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    secrets = [
        settings.signing_key,
        settings.database_url,
        str(settings.storage_root),
        settings.database_url.split("://", 1)[1],
    ]
    for path in ("/openapi.json", "/docs", "/redoc"):
        response = await client.get(path)
        assert response.status_code == 200, path
        for secret in secrets:
            assert secret not in response.text, (path, secret[:12])


async def test_the_docs_are_public_in_production_as_the_contract_says_but_nothing_else(
    settings: Settings,
) -> None:
    app = create_app(make_settings(settings.database_url, env=Environment.PRODUCTION))
    spec, docs, partners, debug = await _answers(
        app,
        ("GET", "/openapi.json", {}),
        ("GET", "/docs", {}),
        ("GET", "/v1/partners", {}),
        ("GET", "/debug", {}),
    )
    assert spec.status_code == docs.status_code == 200
    assert_problem(partners, 401)
    assert_problem(debug, 404)
    assert app.debug is False


async def test_token_responses_are_never_cached(app: FastAPI, actors: Actors) -> None:
    password = "correct horse battery staple"
    actor = await make_actor(app, "state_reviewer", password=password)
    async with client_at(app, "198.51.100.240") as client:
        email = (await client.get("/v1/users/me", headers=actor.headers)).json()["email"]
        token = await client.post("/v1/auth/token", data={"username": email, "password": password})
        key = await client.post("/v1/api-keys", json={"name": "cached?"}, headers=actor.headers)
    assert token.status_code == 200
    assert key.status_code == 201
    for response in (token, key):
        assert response.headers["Cache-Control"] == "no-store"
