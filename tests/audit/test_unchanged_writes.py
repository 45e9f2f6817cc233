"""A PATCH that changes nothing writes nothing: the version, the ETag and the trail stay.

Otherwise a client that saves a form unchanged would move the version under every other
client holding the resource (their next write a needless 412) and leave an event that records
no change.
"""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    Actor,
    Actors,
    audit_actions,
    create_needs,
    create_partner,
    designate,
    engagement_payload,
    make_actor,
)

# Creates a resource and returns its URL, who may change it, and a body that repeats what it
# holds (lists in another order where their order carries no meaning).
Setup = Callable[[FastAPI, httpx.AsyncClient, Actors], Awaitable[tuple[str, Actor, Any]]]


async def _partner(_app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> Any:
    partner = await create_partner(client, actors.admin, regions=["north", "east"])
    same = {
        "name": partner["name"],
        "regions": ["north", "east"],
        "capacity": partner["capacity"],
        "cost_per_school_year": partner["cost_per_school_year"],
    }
    return f"/v1/partners/{partner['id']}", actors.admin, same


async def _needs_profile(_app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> Any:
    profile = await create_needs(client, actors.district, actors.district_record["id"])
    same = {key: profile[key] for key in ("title", "needs", "grade_bands", "min_evidence_tier")}
    return f"/v1/needs/{profile['id']}", actors.district, same


async def _engagement(app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> Any:
    partner = await create_partner(client, actors.admin)
    await designate(app, partner["id"])
    payload = engagement_payload(partner["id"], actors.district_record["id"])
    created = await client.post("/v1/engagements", json=payload, headers=actors.district.headers)
    assert created.status_code == 201, created.text
    same = {key: payload[key] for key in ("status", "start_date", "need_domains")}
    return f"/v1/engagements/{created.json()['id']}", actors.district, same


async def _user(app: FastAPI, _client: httpx.AsyncClient, actors: Actors) -> Any:
    user = await make_actor(app, "state_reviewer")
    return f"/v1/users/{user.user_id}", actors.admin, {"is_active": True}


@pytest.mark.parametrize(
    "setup",
    [_partner, _needs_profile, _engagement, _user],
    ids=["partner", "needs_profile", "engagement", "user"],
)
@pytest.mark.parametrize("body", ["same", "empty"])
async def test_a_patch_that_changes_nothing_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, setup: Setup, body: str
) -> None:
    url, writer, same = await setup(app, client, actors)
    read = await client.get(url, headers=writer.headers)
    trail = await audit_actions(client, actors.admin, url.rsplit("/", 1)[1])

    response = await client.patch(
        url,
        json=same if body == "same" else {},
        headers=writer.headers | {"If-Match": read.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == read.headers["ETag"]
    assert response.json() == read.json()
    assert (await client.get(url, headers=writer.headers)).json() == read.json()
    assert await audit_actions(client, actors.admin, url.rsplit("/", 1)[1]) == trail
    # The version is still checked: a stale ETag is refused even when nothing would change.
    stale = await client.patch(url, json={}, headers=writer.headers | {"If-Match": '"99"'})
    assert stale.status_code == 412
