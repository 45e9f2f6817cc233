"""Security headers, CORS from settings and trusted hosts."""

import httpx
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from tests.conftest import make_settings


async def test_security_headers_on_every_answer(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/v1/partners", "/v1/nowhere"):
        response = await client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Request-Id"]


async def _client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://registry.example.org"
    )


async def test_cors_allows_only_configured_origins(settings: Settings) -> None:
    app = create_app(
        make_settings(settings.database_url, cors_origins=["https://district.example.org"])
    )
    async with await _client_for(app) as client:
        preflight = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        }
        allowed = await client.options(
            "/v1/partners", headers=preflight | {"Origin": "https://district.example.org"}
        )
        refused = await client.options(
            "/v1/partners", headers=preflight | {"Origin": "https://evil.example.com"}
        )
    await app.state.database.dispose()
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://district.example.org"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Origin" not in refused.headers


async def test_a_wildcard_origin_never_comes_with_credentials(settings: Settings) -> None:
    app = create_app(make_settings(settings.database_url, cors_origins=["*"]))
    async with await _client_for(app) as client:
        response = await client.get("/healthz", headers={"Origin": "https://anywhere.example.com"})
    await app.state.database.dispose()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_untrusted_hosts_are_refused(settings: Settings) -> None:
    app = create_app(make_settings(settings.database_url, trusted_hosts=["registry.example.org"]))
    async with await _client_for(app) as client:
        good = await client.get("/healthz")
        bad = await client.get("/healthz", headers={"Host": "attacker.example.com"})
    await app.state.database.dispose()
    assert good.status_code == 200
    assert bad.status_code == 400
