"""Password sign-in, JWT checks, throttling."""

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from fastapi import FastAPI

from app.core.base import utcnow
from app.core.config import Settings
from tests.factories import client_at, fresh_address, make_actor

PASSWORD = "correct horse battery staple"


async def _token(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": email, "password": password})


async def _email_of(client: httpx.AsyncClient, key: str) -> str:
    me = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {key}"})
    return str(me.json()["email"])


async def test_password_sign_in_issues_a_working_token(app: FastAPI) -> None:
    actor = await make_actor(app, "state_reviewer", password=PASSWORD)
    async with client_at(app, "198.51.100.1") as client:
        email = await _email_of(client, actor.key)
        response = await _token(client, email.upper(), PASSWORD)
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert 0 < body["expires_in"] <= 15 * 60
        me = await client.get(
            "/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200
        assert me.json()["role"] == "state_reviewer"


async def test_unknown_user_and_wrong_password_get_the_same_answer(app: FastAPI) -> None:
    actor = await make_actor(app, "state_admin", password=PASSWORD)
    async with client_at(app, "198.51.100.2") as client:
        email = await _email_of(client, actor.key)
        wrong = await _token(client, email, "not the password")
        unknown = await _token(client, f"nobody-{uuid.uuid4().hex}@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("content_type", "encode", "expected"),
    [
        ("application/json", json.dumps, 415),
        ("text/plain", urlencode, 415),
        ("application/x-www-form-urlencoded; charset=utf-8", urlencode, 200),
        ("Application/X-WWW-Form-Urlencoded", urlencode, 200),
    ],
)
async def test_a_sign_in_is_read_only_as_a_form(
    app: FastAPI, content_type: str, encode: Callable[[dict[str, str]], str], expected: int
) -> None:
    actor = await make_actor(app, "state_admin", password=PASSWORD)
    async with client_at(app, "198.51.100.9") as client:
        email = await _email_of(client, actor.key)
        response = await client.post(
            "/v1/auth/token",
            content=encode({"username": email, "password": PASSWORD}),
            headers={"Content-Type": content_type},
        )
    assert response.status_code == expected, response.text
    if expected == 415:
        assert response.json()["type"].endswith("/unsupported-media-type")
        assert "application/x-www-form-urlencoded" in response.json()["detail"]


async def test_a_sign_in_without_a_body_names_the_missing_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/token")
    assert response.status_code == 422
    assert {tuple(issue["loc"]) for issue in response.json()["errors"]} == {
        ("body", "username"),
        ("body", "password"),
    }


async def test_failed_sign_ins_are_throttled_per_account(app: FastAPI, settings: Settings) -> None:
    actor = await make_actor(app, "state_admin", password=PASSWORD)
    limit = settings.sign_in_max_failures_per_account
    async with client_at(app, "198.51.100.3") as client:
        email = await _email_of(client, actor.key)
        for _ in range(limit):
            assert (await _token(client, email, "wrong")).status_code == 401
        blocked = await _token(client, email, PASSWORD)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= settings.sign_in_window_seconds
    async with client_at(app, "198.51.100.4") as elsewhere:
        assert (await _token(elsewhere, email, PASSWORD)).status_code == 429


async def test_failed_sign_ins_are_throttled_per_client_address(
    app: FastAPI, settings: Settings
) -> None:
    async with client_at(app, fresh_address()) as client:
        for _ in range(settings.sign_in_max_failures_per_client):
            response = await _token(client, f"{uuid.uuid4().hex}@example.org", "wrong")
            assert response.status_code == 401
        assert (await _token(client, "someone@example.org", "wrong")).status_code == 429


def _forge(settings: Settings, **changes: object) -> str:
    now = utcnow()
    claims: dict[str, object] = {
        "sub": str(uuid.uuid4()),
        "ver": 1,
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    key = str(changes.pop("key", settings.signing_key))
    algorithm = str(changes.pop("algorithm", "HS256"))
    claims |= changes
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "tamper",
    [
        "expired",
        "alg_none",
        "wrong_key",
        "wrong_audience",
        "wrong_issuer",
        "garbage",
        "flipped_signature",
        "no_account_version",
        "account_version_as_text",
        "older_account_version",
    ],
)
async def test_tampered_or_expired_tokens_are_refused(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tamper: str
) -> None:
    actor = await make_actor(app, "state_admin")
    sub = str(actor.user_id)
    valid = _forge(settings, sub=sub)
    assert (
        await client.get("/v1/users/me", headers={"Authorization": f"Bearer {valid}"})
    ).status_code == 200
    tokens = {
        "expired": _forge(settings, sub=sub, exp=utcnow() - timedelta(seconds=1)),
        "alg_none": jwt.encode(
            {"sub": sub, "aud": settings.token_audience}, None, algorithm="none"
        ),
        "wrong_key": _forge(settings, sub=sub, key="another-secret-key-of-sufficient-length!!"),
        "wrong_audience": _forge(settings, sub=sub, aud="someone-else"),
        "wrong_issuer": _forge(settings, sub=sub, iss="someone-else"),
        "garbage": "not.a.jwt",
        "flipped_signature": valid[:-2] + ("AA" if not valid.endswith("AA") else "BB"),
        "no_account_version": _forge(settings, sub=sub, ver=None),
        "account_version_as_text": _forge(settings, sub=sub, ver="1"),
        "older_account_version": _forge(settings, sub=sub, ver=0),
    }
    response = await client.get(
        "/v1/users/me", headers={"Authorization": f"Bearer {tokens[tamper]}"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
