"""Every write leaves exactly one audit event, with the right actor; the trail is append-only."""

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.factories import Actors, partner_payload


async def _events(client: httpx.AsyncClient, actors: Actors, **params: str) -> list[dict]:
    response = await client.get(
        "/v1/audit-events", params=params | {"limit": "200"}, headers=actors.reviewer.headers
    )
    assert response.status_code == 200
    return response.json()["items"]


async def test_each_partner_write_records_one_event_with_its_actor(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    created = await client.post(
        "/v1/partners", json=partner_payload(), headers=actors.admin.headers
    )
    partner_id = created.json()["id"]
    url = f"/v1/partners/{partner_id}"
    await client.patch(
        url, json={"capacity": 7}, headers=actors.admin.headers | {"If-Match": '"1"'}
    )
    await client.post(f"{url}/status", json={"status": "submitted"}, headers=actors.admin.headers)
    await client.post(
        f"{url}/status", json={"status": "under_review"}, headers=actors.reviewer.headers
    )
    refused = await client.patch(
        url, json={"capacity": 8}, headers=actors.admin.headers | {"If-Match": '"1"'}
    )
    assert refused.status_code == 412

    events = await _events(client, actors, entity_id=partner_id)
    assert [(e["action"], e["actor_id"]) for e in events] == [
        ("partner.created", str(actors.admin.user_id)),
        ("partner.updated", str(actors.admin.user_id)),
        ("partner.status_changed", str(actors.admin.user_id)),
        ("partner.status_changed", str(actors.reviewer.user_id)),
    ]
    assert events[1]["changes"] == {"capacity": [5, 7]}
    assert events[3]["changes"]["status"] == ["submitted", "under_review"]


async def test_key_creation_revocation_and_sign_in_failures_are_recorded(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    key = await client.post(
        "/v1/api-keys", json={"name": "audited"}, headers=actors.partner.headers
    )
    key_id = key.json()["id"]
    await client.delete(f"/v1/api-keys/{key_id}", headers=actors.partner.headers)
    events = await _events(client, actors, entity_id=key_id)
    assert [e["action"] for e in events] == ["api_key.created", "api_key.revoked"]
    assert {e["actor_id"] for e in events} == {str(actors.partner.user_id)}
    assert key.json()["key"] not in str(events)

    email = f"ghost-{uuid.uuid4().hex}@example.org"
    await client.post("/v1/auth/token", data={"username": email, "password": "guess"})
    failures = [
        e
        for e in await _events(client, actors, action="auth.sign_in_failed")
        if e["changes"]["email"] == email
    ]
    assert len(failures) == 1
    assert failures[0]["actor_id"] is None
    assert "guess" not in str(failures[0])


async def test_only_state_roles_read_the_trail(client: httpx.AsyncClient, actors: Actors) -> None:
    for actor, expected in (
        (actors.admin, 200),
        (actors.reviewer, 200),
        (actors.district, 403),
        (actors.partner, 403),
    ):
        assert (await client.get("/v1/audit-events", headers=actor.headers)).status_code == expected


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"]
)
async def test_the_database_refuses_to_change_or_delete_events(
    app: FastAPI, statement: str
) -> None:
    async with app.state.database.engine.connect() as connection:
        with pytest.raises(DBAPIError):
            await connection.execute(text(statement))
        await connection.rollback()
