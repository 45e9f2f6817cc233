"""Engagements end to end: ownership, lifecycle, capacity (also under concurrency), audit."""

import asyncio

import httpx
from fastapi import FastAPI

from app.partners.lifecycle import PartnerStatus
from tests.factories import (
    Actor,
    Actors,
    audit_actions,
    create_district,
    create_needs,
    create_partner,
    designate,
    engagement_payload,
    force_partner_state,
)


async def designated_partner(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor, capacity: int = 5
) -> str:
    partner = await create_partner(client, admin, capacity=capacity)
    await designate(app, partner["id"])
    return str(partner["id"])


async def engage(
    client: httpx.AsyncClient, actor: Actor, partner_id: str, district_id: str, **overrides: object
) -> httpx.Response:
    return await client.post(
        "/v1/engagements",
        json=engagement_payload(partner_id, district_id, **overrides),
        headers=actor.headers,
    )


async def test_district_records_an_engagement_that_both_sides_can_read(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    await designate(app, actors.partner_record["id"])
    district_id = actors.district_record["id"]
    profile = await create_needs(client, actors.district, district_id)
    response = await engage(
        client,
        actors.district,
        actors.partner_record["id"],
        district_id,
        needs_id=profile["id"],
        end_date="2027-06-30",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/engagements/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert (body["status"], body["needs_id"], body["end_date"]) == (
        "active",
        profile["id"],
        "2027-06-30",
    )
    for actor in (actors.district, actors.partner, actors.reviewer):
        read = await client.get(f"/v1/engagements/{body['id']}", headers=actor.headers)
        assert read.status_code == 200
        assert read.json() == body
        listed = await client.get(
            "/v1/engagements", params={"district_id": district_id}, headers=actor.headers
        )
        assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    assert await audit_actions(client, actors.admin, body["id"]) == ["engagement.created"]


async def test_other_tenants_engagements_are_hidden_and_partners_cannot_write(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = await designated_partner(app, client, actors.admin)
    other = await create_district(client, actors.admin)
    theirs = await engage(client, actors.admin, partner_id, other["id"])
    assert theirs.status_code == 201
    url = f"/v1/engagements/{theirs.json()['id']}"
    for actor in (actors.district, actors.partner):
        assert (await client.get(url, headers=actor.headers)).status_code == 404
        listed = await client.get(
            "/v1/engagements", params={"partner_id": partner_id}, headers=actor.headers
        )
        assert listed.json()["items"] == []
    assert (await engage(client, actors.district, partner_id, other["id"])).status_code == 404
    assert (
        await engage(client, actors.partner, partner_id, actors.district_record["id"])
    ).status_code == 403
    patched = await client.patch(
        url, json={"status": "completed"}, headers=actors.partner.headers | {"If-Match": '"1"'}
    )
    assert patched.status_code == 403


async def test_only_designated_partners_and_consistent_references_are_accepted(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id = actors.district_record["id"]
    draft = await create_partner(client, actors.admin)
    refused = await engage(client, actors.admin, draft["id"], district_id)
    assert refused.status_code == 409
    assert "draft" in refused.json()["detail"]

    partner_id = await designated_partner(app, client, actors.admin)
    await force_partner_state(app, partner_id, status=PartnerStatus.SUSPENDED)
    assert (await engage(client, actors.district, partner_id, district_id)).status_code == 409

    partner_id = await designated_partner(app, client, actors.admin)
    other = await create_district(client, actors.admin)
    foreign_profile = await create_needs(client, actors.admin, other["id"])
    mismatched = await engage(
        client, actors.admin, partner_id, district_id, needs_id=foreign_profile["id"]
    )
    assert mismatched.status_code == 422
    for overrides in (
        {"need_domains": ["no_such_domain"]},
        {"need_domains": []},
        {"status": "completed"},
        {"start_date": "2026-09-01", "end_date": "2026-08-31"},
        {"start_date": 1767225600},
        {"start_date": "2026-01-01T00:00:00"},
        {"start_date": "not a date"},
        {"start_date": "1999-12-31"},
        {"start_date": "2026-09-01", "end_date": "3000-01-01"},
        {"needs_id": "not-a-uuid"},
        {"surprise": True},
    ):
        response = await engage(client, actors.district, partner_id, district_id, **overrides)
        assert response.status_code == 422, (overrides, response.text)


async def test_capacity_counts_active_engagements_on_create_and_activation(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = await designated_partner(app, client, actors.admin, capacity=1)
    district_id = actors.district_record["id"]
    first = await engage(client, actors.district, partner_id, district_id)
    assert first.status_code == 201
    full = await engage(client, actors.district, partner_id, district_id)
    assert full.status_code == 409
    assert "capacity" in full.json()["detail"]

    planned = await engage(client, actors.district, partner_id, district_id, status="planned")
    assert planned.status_code == 201
    url = f"/v1/engagements/{planned.json()['id']}"
    headers = actors.district.headers | {"If-Match": '"1"'}
    assert (await client.patch(url, json={"status": "active"}, headers=headers)).status_code == 409

    done = await client.patch(
        f"/v1/engagements/{first.json()['id']}",
        json={"status": "completed", "end_date": "2027-06-30"},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    activated = await client.patch(url, json={"status": "active"}, headers=headers)
    assert activated.status_code == 200, activated.text
    assert activated.headers["ETag"] == '"2"'
    assert await audit_actions(client, actors.admin, planned.json()["id"]) == [
        "engagement.created",
        "engagement.updated",
    ]


async def test_five_concurrent_active_creates_fill_a_capacity_of_two(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = await designated_partner(app, client, actors.admin, capacity=2)
    district_id = actors.district_record["id"]
    responses = await asyncio.gather(
        *(engage(client, actors.district, partner_id, district_id) for _ in range(5))
    )
    assert sorted(response.status_code for response in responses) == [201, 201, 409, 409, 409]
    listed = await client.get(
        "/v1/engagements",
        params={"partner_id": partner_id, "status": "active"},
        headers=actors.admin.headers,
    )
    assert len(listed.json()["items"]) == 2


async def test_lifecycle_moves_and_if_match(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = await designated_partner(app, client, actors.admin)
    created = await engage(
        client, actors.district, partner_id, actors.district_record["id"], status="planned"
    )
    url = f"/v1/engagements/{created.json()['id']}"
    headers = actors.district.headers
    assert (await client.patch(url, json={"status": "active"}, headers=headers)).status_code == 428
    illegal = await client.patch(
        url, json={"status": "completed"}, headers=headers | {"If-Match": '"1"'}
    )
    assert illegal.status_code == 409
    assert illegal.json()["allowed"] == ["active", "terminated"]
    ended = await client.patch(
        url, json={"status": "terminated"}, headers=headers | {"If-Match": '"1"'}
    )
    assert ended.status_code == 200
    stale = await client.patch(
        url, json={"need_domains": ["literacy"]}, headers=headers | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    final = await client.patch(
        url, json={"status": "active"}, headers=headers | {"If-Match": '"2"'}
    )
    assert final.status_code == 409
    assert final.json()["allowed"] == []
    backwards = await client.patch(
        url, json={"end_date": "2020-01-01"}, headers=headers | {"If-Match": '"2"'}
    )
    assert backwards.status_code == 422


async def test_a_partner_renewing_a_running_term_can_be_engaged(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = await designated_partner(app, client, actors.admin)
    await designate(app, partner_id, status=PartnerStatus.UNDER_REVIEW)
    response = await engage(client, actors.district, partner_id, actors.district_record["id"])
    assert response.status_code == 201, response.text


async def test_an_engagement_records_its_schools_and_intensity(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = await designated_partner(app, client, actors.admin)
    district_id = actors.district_record["id"]
    whole = await engage(client, actors.district, partner_id, district_id)
    assert (whole.json()["schools"], whole.json()["intensity"]) == ([], None)

    created = await engage(
        client,
        actors.district,
        partner_id,
        district_id,
        schools=["Lincoln Elementary", " Lincoln Elementary ", "Oak Middle"],
        intensity={"days_per_school_year": 60, "partner_staff": 3},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["schools"] == ["Lincoln Elementary", "Oak Middle"]
    assert body["intensity"] == {
        "days_per_school_year": 60,
        "partner_staff": 3,
        "district_staff": None,
    }
    url = f"/v1/engagements/{body['id']}"
    assert (await client.get(url, headers=actors.reviewer.headers)).json() == body

    headers = actors.district.headers | {"If-Match": '"1"'}
    changed = await client.patch(
        url, json={"schools": ["Oak Middle"], "intensity": None}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["schools"], changed.json()["intensity"]) == (["Oak Middle"], None)
    assert changed.headers["ETag"] == '"2"'
    events = await client.get(
        "/v1/audit-events", params={"entity_id": body["id"]}, headers=actors.admin.headers
    )
    last = events.json()["items"][-1]
    assert last["action"] == "engagement.updated"
    assert last["changes"]["schools"] == [["Lincoln Elementary", "Oak Middle"], ["Oak Middle"]]
    assert last["changes"]["intensity"][1] is None

    headers = actors.district.headers | {"If-Match": '"2"'}
    for bad in (
        {"intensity": {"days_per_school_year": 0}},
        {"intensity": {"partner_staff": True}},
        {"intensity": {"hours": 3}},
        {"schools": None},
        {"schools": [""]},
        {"schools": [f"School {n}" for n in range(201)]},
    ):
        refused = await client.patch(url, json=bad, headers=headers)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=actors.district.headers)).headers["ETag"] == '"2"'
