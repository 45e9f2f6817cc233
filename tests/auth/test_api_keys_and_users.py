"""API keys (shown once, keyed hash, revocable) and user administration."""

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, select, update
from sqlalchemy.util import await_only

from app.auth.models import ApiKey
from tests.factories import (
    Actors,
    client_at,
    fresh_address,
    make_actor,
    next_nces_id,
    unique,
)


async def test_a_new_key_is_shown_once_and_works_until_revoked(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    created = await client.post(
        "/v1/api-keys", json={"name": "nightly sync"}, headers=actors.district.headers
    )
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("rk_")
    assert body["role"] == "district"
    assert body["user_id"] == str(actors.district.user_id)
    assert created.headers["Location"] == f"/v1/api-keys/{body['id']}"
    headers = {"Authorization": f"Bearer {body['key']}"}

    assert (await client.get("/v1/users/me", headers=headers)).status_code == 200
    listed = await client.get("/v1/api-keys", headers=actors.district.headers)
    entry = next(item for item in listed.json()["items"] if item["id"] == body["id"])
    assert "key" not in entry
    assert entry["last_used_at"] is not None
    assert entry["prefix"] == body["key"][:10]

    async with app.state.database.sessions() as session:
        stored = await session.scalar(select(ApiKey).where(ApiKey.id == uuid.UUID(body["id"])))
        assert stored is not None
        assert body["key"] not in {stored.key_hash, stored.prefix, stored.name}

    revoked = await client.delete(f"/v1/api-keys/{body['id']}", headers=actors.district.headers)
    assert revoked.status_code == 204
    after = await client.get("/v1/users/me", headers=headers)
    assert after.status_code == 401


async def test_a_read_records_its_keys_use_though_another_request_committed_meanwhile(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    """On SQLite a read's transaction cannot write once another has committed since it began:
    every read whose key was due its minute's bookkeeping failed with 503 under writes."""
    created = await client.post(
        "/v1/api-keys", json={"name": "nightly sync"}, headers=actors.district.headers
    )
    key = created.json()
    engine = app.state.database.read_engine.sync_engine
    looked_up: list[str] = []

    async def commit_elsewhere() -> None:
        async with app.state.database.sessions() as other:
            renamed = update(ApiKey).where(ApiKey.id == uuid.UUID(key["id"])).values(name="x")
            await other.execute(renamed)
            await other.commit()

    def after_the_key_lookup(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "key_hash" in statement and not looked_up:
            looked_up.append(statement)
            await_only(commit_elsewhere())

    event.listen(engine, "after_cursor_execute", after_the_key_lookup)
    try:
        response = await client.get(
            "/v1/need-domains", headers={"Authorization": f"Bearer {key['key']}"}
        )
    finally:
        event.remove(engine, "after_cursor_execute", after_the_key_lookup)

    assert looked_up
    assert response.status_code == 200, response.text
    listed = await client.get("/v1/api-keys", headers=actors.district.headers)
    entry = next(item for item in listed.json()["items"] if item["id"] == key["id"])
    assert (entry["name"], entry["last_used_at"] is not None) == ("x", True)


async def test_forged_and_unknown_keys_are_refused(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    real = actors.partner.key
    for forged in ("rk_" + "A" * 43, real[:-1] + ("B" if real[-1] != "B" else "C"), "rk_"):
        response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, forged


async def test_only_admins_make_keys_for_other_users(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    for_other = {"name": "sneaky", "user_id": str(actors.admin.user_id)}
    refused = await client.post("/v1/api-keys", json=for_other, headers=actors.partner.headers)
    assert refused.status_code == 403
    on_behalf = {"name": "district system", "user_id": str(actors.district.user_id)}
    made = await client.post("/v1/api-keys", json=on_behalf, headers=actors.admin.headers)
    assert made.status_code == 201
    assert made.json()["role"] == "district"
    others_key = made.json()["id"]
    assert (
        await client.delete(f"/v1/api-keys/{others_key}", headers=actors.partner.headers)
    ).status_code == 404
    assert (
        await client.delete(f"/v1/api-keys/{others_key}", headers=actors.district.headers)
    ).status_code == 204


async def test_privilege_escalation_attempts_fail(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    admin_user = {
        "email": f"{unique('x')}@example.org",
        "role": "state_admin",
        "password": "long enough password",
    }
    for actor in (actors.district, actors.partner, actors.reviewer):
        assert (
            await client.post("/v1/users", json=admin_user, headers=actor.headers)
        ).status_code == 403
    partner_url = f"/v1/partners/{actors.partner_record['id']}/status"
    for status in ("approved", "under_review"):
        response = await client.post(
            partner_url, json={"status": status}, headers=actors.partner.headers
        )
        assert response.status_code in {403, 409}
        assert response.status_code != 200
    mass = await client.post(
        "/v1/users",
        json=admin_user | {"is_active": True, "id": str(uuid.uuid4())},
        headers=actors.admin.headers,
    )
    assert mass.status_code == 422


async def test_user_bindings_are_enforced(client: httpx.AsyncClient, actors: Actors) -> None:
    def user(**fields: object) -> dict[str, object]:
        return {"email": f"{unique('b')}@example.org"} | fields

    cases = [
        user(role="district"),
        user(role="partner"),
        user(role="state_admin", district_id=actors.district_record["id"]),
        user(role="district", district_id=str(uuid.uuid4())),
        user(
            role="partner",
            partner_id=actors.partner_record["id"],
            district_id=actors.district_record["id"],
        ),
    ]
    for body in cases:
        response = await client.post("/v1/users", json=body, headers=actors.admin.headers)
        assert response.status_code == 422, body
    bound = await client.post(
        "/v1/users",
        json=user(role="district", district_id=actors.district_record["id"]),
        headers=actors.admin.headers,
    )
    assert bound.status_code == 201
    duplicate = await client.post(
        "/v1/users",
        json={"email": bound.json()["email"].upper(), "role": "state_reviewer"},
        headers=actors.admin.headers,
    )
    assert duplicate.status_code == 409


async def test_a_district_user_sees_only_its_own_district(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    other = await client.post(
        "/v1/districts",
        json={
            "name": "Other",
            "nces_id": next_nces_id(),
            "region": "south",
            "locale": "rural",
            "enrollment": 10,
        },
        headers=actors.admin.headers,
    )
    assert other.status_code == 201
    assert (
        await client.get(f"/v1/districts/{other.json()['id']}", headers=actors.district.headers)
    ).status_code == 404
    listed = await client.get("/v1/districts", headers=actors.district.headers)
    assert [item["id"] for item in listed.json()["items"]] == [actors.district_record["id"]]


async def test_an_admin_deactivates_reactivates_and_resets_a_user(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    old_password, new_password = "correct horse battery staple", "another long passphrase"
    actor = await make_actor(app, "state_reviewer", password=old_password)
    url = f"/v1/users/{actor.user_id}"
    read = await client.get(url, headers=actors.admin.headers)
    email, etag = read.json()["email"], read.headers["ETag"]

    async def sign_in(password: str) -> httpx.Response:
        async with client_at(app, fresh_address()) as elsewhere:
            form = {"username": email, "password": password}
            return await elsewhere.post("/v1/auth/token", data=form)

    token = (await sign_in(old_password)).json()["access_token"]
    by_token = {"Authorization": f"Bearer {token}"}
    off = {"is_active": False}
    assert (await client.patch(url, json=off, headers=actors.admin.headers)).status_code == 428
    by_itself = actor.headers | {"If-Match": etag}
    assert (await client.patch(url, json=off, headers=by_itself)).status_code == 403

    deactivated = await client.patch(
        url, json=off, headers=actors.admin.headers | {"If-Match": etag}
    )
    assert deactivated.status_code == 200, deactivated.text
    assert deactivated.json()["is_active"] is False
    # Refused from the next request on: its API key, its token and its password.
    assert (await client.get("/v1/users/me", headers=actor.headers)).status_code == 401
    assert (await client.get("/v1/users/me", headers=by_token)).status_code == 401
    assert (await sign_in(old_password)).status_code == 401

    on = await client.patch(
        url,
        json={"is_active": True, "password": new_password},
        headers=actors.admin.headers | {"If-Match": deactivated.headers["ETag"]},
    )
    assert on.status_code == 200, on.text
    me = await client.get("/v1/users/me", headers=actor.headers)
    assert me.status_code == 200
    assert me.headers["ETag"] == on.headers["ETag"] == f'"{me.json()["version"]}"'
    # The token taken before the account changed stays refused: a new sign-in is needed.
    assert (await client.get("/v1/users/me", headers=by_token)).status_code == 401
    assert (await sign_in(old_password)).status_code == 401
    assert (await sign_in(new_password)).status_code == 200

    events = await client.get(
        "/v1/audit-events", params={"entity_id": str(actor.user_id)}, headers=actors.admin.headers
    )
    updates = [e["changes"] for e in events.json()["items"] if e["action"] == "user.updated"]
    assert updates == [
        {"is_active": [True, False]},
        {"is_active": [False, True], "password_changed": True},
    ]
    assert new_password not in events.text


async def test_a_new_password_ends_the_sessions_opened_with_the_old_one(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    """A token taken with a leaked password stops working when the password is reset, not
    15 minutes later; the account's API keys and other users' tokens are untouched."""
    old_password = "correct horse battery staple"
    actor = await make_actor(app, "state_reviewer", password=old_password)
    url = f"/v1/users/{actor.user_id}"

    async def me(token: str) -> int:
        response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        return response.status_code

    async def sign_in(email: str, password: str) -> str:
        async with client_at(app, fresh_address()) as elsewhere:
            form = {"username": email, "password": password}
            response = await elsewhere.post("/v1/auth/token", data=form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    read = await client.get(url, headers=actors.admin.headers)
    stolen = await sign_in(read.json()["email"], old_password)
    bystander = await make_actor(app, "state_reviewer", password=old_password)
    bystander_email = (await client.get("/v1/users/me", headers=bystander.headers)).json()["email"]
    bystanders_token = await sign_in(bystander_email, old_password)
    assert await me(stolen) == 200

    reset = await client.patch(
        url,
        json={"password": "a brand new passphrase"},
        headers=actors.admin.headers | {"If-Match": read.headers["ETag"]},
    )
    assert reset.status_code == 200, reset.text
    refused = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {stolen}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "sign in again" in refused.json()["detail"]
    assert await me(await sign_in(read.json()["email"], "a brand new passphrase")) == 200
    assert (await client.get("/v1/users/me", headers=actor.headers)).status_code == 200
    assert await me(bystanders_token) == 200


async def test_an_admin_cannot_deactivate_their_own_account(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    url = f"/v1/users/{actors.admin.user_id}"
    etag = (await client.get(url, headers=actors.admin.headers)).headers["ETag"]
    response = await client.patch(
        url, json={"is_active": False}, headers=actors.admin.headers | {"If-Match": etag}
    )
    assert response.status_code == 409
    assert (await client.get("/v1/users/me", headers=actors.admin.headers)).status_code == 200


async def test_key_and_audit_lists_page_by_time_without_gaps(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    made = [
        (
            await client.post(
                "/v1/api-keys", json={"name": f"k{i}"}, headers=actors.partner.headers
            )
        ).json()["id"]
        for i in range(5)
    ]
    for path, params in (
        ("/v1/api-keys", {}),
        ("/v1/audit-events", {"actor_id": str(actors.partner.user_id)}),
    ):
        seen: list[str] = []
        cursor = None
        while True:
            page = await client.get(
                path,
                params=params | {"limit": 2} | ({"cursor": cursor} if cursor else {}),
                headers=(actors.partner if path == "/v1/api-keys" else actors.admin).headers,
            )
            assert page.status_code == 200, page.text
            seen += [item["id"] for item in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen))
        if path == "/v1/api-keys":
            assert set(made) <= set(seen)
        else:
            assert len(seen) >= len(made)
