"""API2:2023 Broken Authentication.

Complements tests/auth (sign-in, forged and expired tokens, revoked keys, deactivated keys):
credentials count only where the contract puts them, the sign-in throttle cannot be dodged by
spelling the account differently or by naming another client address in a header, a token
follows its user's current state, and no secret (password, API key) is kept anywhere a copy of
the database would hand it over, including the idempotency records of a retried create. The
throttle's limits under concurrent guessing are in the API4 module.
"""

import base64
import hashlib
import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from app.auth.models import ApiKey, User
from app.auth.schemas import UserCreate
from app.core.config import Settings
from app.idempotency.models import IdempotentRequest
from tests.factories import Actor, Actors, client_at, fresh_address, make_actor, unique
from tests.security.helpers import assert_problem

PASSWORD = "correct horse battery staple"


async def _sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": username, "password": password})


async def _email(client: httpx.AsyncClient, actor: Actor) -> str:
    return str((await client.get("/v1/users/me", headers=actor.headers)).json()["email"])


async def test_credentials_count_only_as_a_bearer_authorization(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    key = actors.partner.key
    assert (await client.get("/v1/users/me", headers=actors.partner.headers)).status_code == 200
    elsewhere: list[tuple[dict[str, str], dict[str, str]]] = [
        ({}, {"api_key": key}),
        ({}, {"access_token": key}),
        ({}, {"token": key}),
        ({"X-API-Key": key}, {}),
        ({"Api-Key": key}, {}),
        ({"Cookie": f"access_token={key}; session={key}"}, {}),
        ({"Authorization": key}, {}),  # no scheme
        ({"Authorization": f"Token {key}"}, {}),
        ({"Authorization": "Basic " + base64.b64encode(f"x:{key}".encode()).decode()}, {}),
    ]
    for headers, params in elsewhere:
        response = await client.get("/v1/users/me", headers=headers, params=params)
        problem = assert_problem(response, 401)
        assert key not in response.text, "a refused credential is never echoed"
        assert response.headers["WWW-Authenticate"] == "Bearer", problem


async def test_sign_in_takes_credentials_from_the_body_only(app: FastAPI) -> None:
    actor = await make_actor(app, "state_reviewer", password=PASSWORD)
    async with client_at(app, "198.51.100.201") as client:
        email = await _email(client, actor)
        in_query = {"username": email, "password": PASSWORD}
        assert_problem(await client.get("/v1/auth/token", params=in_query), 405)
        assert_problem(await client.post("/v1/auth/token", params=in_query), 422)
        assert (await _sign_in(client, email, PASSWORD)).status_code == 200


async def test_an_account_without_a_password_cannot_sign_in(app: FastAPI) -> None:
    """System accounts live on API keys; no password, however guessed, opens them."""
    actor = await make_actor(app, "state_admin")  # created without a password
    async with client_at(app, "198.51.100.202") as client:
        email = await _email(client, actor)
        wrong = await _sign_in(client, email, "any password at all")
        empty = await client.post("/v1/auth/token", data={"username": email, "password": ""})
        unknown = await _sign_in(client, f"{unique('nobody')}@example.org", "any password at all")
    assert_problem(wrong, 401)
    assert wrong.json() == unknown.json(), "the answer must not tell the account exists"
    assert_problem(empty, 422)


async def test_the_account_throttle_cannot_be_dodged_by_spelling_the_email_differently(
    strict_app: FastAPI,
) -> None:
    settings: Settings = strict_app.state.settings
    actor = await make_actor(strict_app, "state_admin", password=PASSWORD)
    async with client_at(strict_app, "198.51.100.203") as client:
        email = await _email(client, actor)
        variants = [email.upper(), f"  {email}  ", email.title(), f"\t{email}", email.swapcase()]
        for attempt in range(settings.sign_in_max_failures_per_account):
            response = await _sign_in(client, variants[attempt % len(variants)], "wrong")
            assert_problem(response, 401)
        blocked = await _sign_in(client, email, PASSWORD)
    assert_problem(blocked, 429)


async def test_the_client_throttle_ignores_addresses_the_client_claims(
    strict_app: FastAPI,
) -> None:
    """X-Forwarded-For and friends come from the client: the counted address is the peer's."""

    def spoofing(n: int) -> dict[str, str]:
        claimed = f"203.0.113.{n}"
        return {
            "X-Forwarded-For": claimed,
            "X-Real-IP": claimed,
            "Forwarded": f"for={claimed}",
            "X-Client-IP": claimed,
            "True-Client-IP": claimed,
        }

    settings: Settings = strict_app.state.settings
    async with client_at(strict_app, fresh_address()) as client:
        for n in range(settings.sign_in_max_failures_per_client):
            response = await client.post(
                "/v1/auth/token",
                data={"username": f"{unique('g')}@example.org", "password": "guess"},
                headers=spoofing(n),
            )
            assert_problem(response, 401)
        blocked = await client.post(
            "/v1/auth/token",
            data={"username": f"{unique('g')}@example.org", "password": "guess"},
            headers={"X-Forwarded-For": "192.0.2.250", "X-Real-IP": "192.0.2.250"},
        )
    assert_problem(blocked, 429)
    assert int(blocked.headers["Retry-After"]) > 0


async def test_a_token_follows_its_users_current_state(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    actor = await make_actor(app, "state_reviewer", password=PASSWORD)
    async with client_at(app, "198.51.100.204") as other:
        token = (await _sign_in(other, await _email(other, actor), PASSWORD)).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await client.get("/v1/users/me", headers=bearer)).status_code == 200
    async with app.state.database.sessions() as session, session.begin():
        user = await session.get(User, actor.user_id)
        assert user is not None
        user.is_active = False
    assert_problem(await client.get("/v1/users/me", headers=bearer), 401)
    assert_problem(await client.get("/v1/partners", headers=bearer), 401)


async def test_passwords_and_keys_are_stored_as_slow_or_keyed_hashes_only(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    password = f"{unique('pw')} long enough"
    created = await client.post(
        "/v1/users",
        json={
            "email": f"{unique('h')}@example.org",
            "role": "state_reviewer",
            "password": password,
        },
        headers=actors.admin.headers,
    )
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    key = await client.post("/v1/api-keys", json={"name": "stored"}, headers=actors.partner.headers)
    secret = key.json()["key"]
    async with app.state.database.sessions() as session:
        user = await session.get(User, uuid.UUID(created.json()["id"]))
        stored = await session.scalar(
            select(ApiKey).where(ApiKey.id == uuid.UUID(key.json()["id"]))
        )
    assert user is not None
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert password not in user.password_hash
    assert stored is not None
    assert secret not in {stored.key_hash, stored.prefix}
    # Keyed: a copy of the table alone cannot be used to test guessed keys.
    assert stored.key_hash != hashlib.sha256(secret.encode()).hexdigest()


async def _idempotent_rows(app: FastAPI, owner: uuid.UUID) -> list[IdempotentRequest]:
    async with app.state.database.sessions() as session:
        rows = await session.scalars(
            select(IdempotentRequest).where(IdempotentRequest.owner == str(owner))
        )
        return list(rows)


async def test_a_retried_key_creation_never_stores_or_shows_the_secret_again(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    headers = actors.district.headers | {"Idempotency-Key": unique("key")}
    first = await client.post("/v1/api-keys", json={"name": "retried"}, headers=headers)
    assert first.status_code == 201, first.text
    secret = first.json()["key"]
    rows = await _idempotent_rows(app, actors.district.user_id)
    assert rows, "the create was recorded for replays"
    assert all(secret not in json.dumps(row.body) for row in rows), "the secret was stored"

    retry = await client.post("/v1/api-keys", json={"name": "retried"}, headers=headers)
    problem = assert_problem(retry, 409)
    assert secret not in retry.text
    assert retry.headers["Location"] == f"/v1/api-keys/{first.json()['id']}", problem
    keys = await client.get("/v1/api-keys", headers=actors.district.headers)
    assert [item["name"] for item in keys.json()["items"]].count("retried") == 1
    # The key itself works: refusing the replay did not undo the create.
    assert (
        await client.get("/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    ).status_code == 200


async def test_a_retried_user_creation_keeps_no_fast_hash_of_the_password(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    """The replay fingerprint of a body with a password is keyed, or it is a fast hash of it."""
    password = f"{unique('pw')} long enough"
    body = {"email": f"{unique('i')}@example.org", "role": "state_reviewer", "password": password}
    headers = actors.admin.headers | {"Idempotency-Key": unique("user")}
    first = await client.post("/v1/users", json=body, headers=headers)
    again = await client.post("/v1/users", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # What an unkeyed fingerprint would be: SHA-256 of the canonical request.
    canonical = ["POST /v1/users", UserCreate.model_validate(body).model_dump(mode="json")]
    plain = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    rows = await _idempotent_rows(app, actors.admin.user_id)
    for row in rows:
        assert password not in json.dumps(row.body)
        assert row.fingerprint != hashlib.sha256(plain.encode()).hexdigest()


@pytest.mark.parametrize("role", ["state_reviewer", "district", "partner"])
async def test_a_key_cannot_be_minted_for_someone_else_or_with_another_role(
    client: httpx.AsyncClient, actors: Actors, role: str
) -> None:
    actor = actors.by_role()[role]
    for body in (
        {"name": "mine", "user_id": str(actors.admin.user_id)},
        {"name": "mine", "role": "state_admin"},
        {"name": "mine", "user_id": str(actor.user_id), "role": "state_admin"},
    ):
        response = await client.post("/v1/api-keys", json=body, headers=actor.headers)
        assert response.status_code in {403, 422}, (body, response.text)
        assert_problem(response, response.status_code)
    own = await client.post("/v1/api-keys", json={"name": "mine"}, headers=actor.headers)
    assert own.status_code == 201
    assert own.json()["role"] == role
