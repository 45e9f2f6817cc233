"""Security headers, CORS from settings and trusted hosts."""

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import ConfigurationError, Environment, Settings, load_settings
from app.main import create_app
from tests.conftest import make_settings


def _assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["X-Request-Id"]


async def test_security_headers_on_every_answer(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/v1/partners", "/v1/nowhere"):
        response = await client.get(path)
        _assert_security_headers(response)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["Cache-Control"] == "no-store"
        # Only production promises HTTPS; HSTS on a plain-HTTP development server would stick.
        assert "Strict-Transport-Security" not in response.headers
    # The interactive docs load their scripts, so they keep the headers but not the API's CSP.
    docs = await client.get("/docs")
    _assert_security_headers(docs)
    assert "default-src 'none'" not in docs.headers.get("Content-Security-Policy", "")


async def test_production_answers_carry_hsts(settings: Settings) -> None:
    app = create_app(make_settings(settings.database_url, env=Environment.PRODUCTION))
    async with await _client_for(app) as client:
        response = await client.get("/healthz")
    await app.state.database.dispose()
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1]) >= 15_552_000


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
        simple = await client.get("/healthz", headers={"Origin": "https://district.example.org"})
    await app.state.database.dispose()
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://district.example.org"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Origin" not in refused.headers
    # What the README tells clients to read, browser code can read too.
    exposed = {name.strip() for name in simple.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed >= {"ETag", "Location", "Retry-After", "X-Request-Id", "Idempotent-Replayed"}


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


async def test_an_untrusted_host_gets_a_problem_with_the_usual_headers(settings: Settings) -> None:
    app = create_app(
        make_settings(
            settings.database_url, trusted_hosts=["registry.example.org", "*.agency.example.gov"]
        )
    )
    trusted = ["registry.example.org", "Registry.Example.ORG:8443", "api.agency.example.gov"]
    untrusted = [
        "attacker.example.com",
        "registry.example.org.attacker.example.com",
        "agency.example.gov",  # *.domain admits subdomains, not the domain itself
        "registry.example.org@attacker.example.com",
        "",
    ]
    async with await _client_for(app) as client:
        answers = {host: await client.get("/healthz", headers={"Host": host}) for host in trusted}
        refusals = {
            host: await client.get("/v1/partners", headers={"Host": host}) for host in untrusted
        }
    await app.state.database.dispose()
    assert {host: answer.status_code for host, answer in answers.items()} == dict.fromkeys(
        trusted, 200
    )
    for refused in refusals.values():
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"].endswith("/invalid-host")
        assert problem["status"] == 400
        assert problem["title"]
        _assert_security_headers(refused)


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ("*.*", "is not a host name"),
        ("a*b.example.org", "is not a host name"),
        ("registry.*.example.org", "is not a host name"),
        ("*example.org", "is not a host name"),
        ("registry.example.org:8000", "is not a host name"),
        ("https://registry.example.org", "is not a host name"),
        (",", "at least one host"),
    ],
)
def test_a_bad_trusted_host_pattern_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, hosts: str, message: str
) -> None:
    monkeypatch.setenv("REGISTRY_TRUSTED_HOSTS", hosts)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert str(error.value).startswith("invalid REGISTRY_TRUSTED_HOSTS: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_good_trusted_host_patterns_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "REGISTRY_TRUSTED_HOSTS", "registry.example.org, *.agency.example.gov,127.0.0.1,[::1]"
    )
    assert load_settings().trusted_hosts == [
        "registry.example.org",
        "*.agency.example.gov",
        "127.0.0.1",
        "[::1]",
    ]


@pytest.mark.parametrize(
    ("origins", "message"),
    [
        # "null" is what sandboxed frames and file:// pages send: never a real client.
        ("null", "is not an origin"),
        ("https://*.example.org", "is not an origin"),
        ("district.example.org", "is not an origin"),
        ("https://district.example.org/app", "is not an origin"),
        ("ftp://district.example.org", "is not an origin"),
        # A wildcard beside named origins would quietly drop credentials for them too.
        ("*,https://district.example.org", "give it alone"),
    ],
)
def test_dangerous_or_meaningless_cors_origins_are_refused(
    monkeypatch: pytest.MonkeyPatch, origins: str, message: str
) -> None:
    monkeypatch.setenv("REGISTRY_CORS_ORIGINS", origins)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert str(error.value).startswith("invalid REGISTRY_CORS_ORIGINS: ")
    assert message in str(error.value)


def test_cors_origins_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "REGISTRY_CORS_ORIGINS",
        "https://district.example.org/, http://localhost:3000, HTTPS://Portal.Example.ORG:443,"
        " http://intranet:80, http://intranet:8080",
    )
    assert load_settings().cors_origins == [
        "https://district.example.org",
        "http://localhost:3000",
        "https://portal.example.org",
        "http://intranet",
        "http://intranet:8080",
    ]
