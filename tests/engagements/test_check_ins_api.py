"""Check-ins end to end: who records and reads them, their rules, their audit trail."""

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.engagements.schemas import SupportRatings
from app.engagements.track_record import QUALITIES
from tests.factories import (
    Actors,
    audit_actions,
    check_in_payload,
    create_district,
    create_partner,
    designate,
    engagement_payload,
    make_actor,
)

START = "2026-01-05"


async def _engagement(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, **overrides: Any
) -> str:
    partner = await create_partner(client, actors.admin)
    await designate(app, partner["id"])
    payload = engagement_payload(
        partner["id"], actors.district_record["id"], start_date=START, **overrides
    )
    created = await client.post("/v1/engagements", json=payload, headers=actors.district.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_the_ratings_are_the_six_qualities_of_support() -> None:
    assert tuple(SupportRatings.model_fields) == QUALITIES


async def test_the_district_records_and_everyone_involved_reads_check_ins(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    engagement_id = await _engagement(app, client, actors)
    url = f"/v1/engagements/{engagement_id}/check-ins"
    created = await client.post(url, json=check_in_payload(), headers=actors.district.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["Location"] == f"{url}/{body['id']}"
    assert body["engagement_id"] == engagement_id
    assert body["recorded_by"] == str(actors.district.user_id)
    # on_track is 2/3; five ratings of 3 and one of 4 average (5 * 2/3 + 1) / 6.
    assert body["score"] == pytest.approx((2 / 3 + (5 * 2 / 3 + 1) / 6) / 2)
    earlier = await client.post(
        url,
        json=check_in_payload(held_on=START, progress="some_progress"),
        headers=actors.admin.headers,
    )
    assert earlier.status_code == 201, earlier.text

    # The partner it concerns reads them but records none: the rating is the district's.
    partner = await make_actor(app, "partner", partner_id=await _partner_of(client, actors, url))
    assert (
        await client.post(url, json=check_in_payload(), headers=partner.headers)
    ).status_code == 403
    for reader in (actors.district, actors.admin, partner):
        listed = await client.get(url, headers=reader.headers)
        assert listed.status_code == 200, listed.text
        # Oldest meeting first, whatever the order they were recorded in.
        assert [item["id"] for item in listed.json()["items"]] == [earlier.json()["id"], body["id"]]
        one = await client.get(f"{url}/{body['id']}", headers=reader.headers)
        assert one.json() == body

    # Another district sees neither the engagement nor its check-ins.
    other = await create_district(client, actors.admin)
    stranger = await make_actor(app, "district", district_id=other["id"])
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (
        await client.post(url, json=check_in_payload(), headers=stranger.headers)
    ).status_code == 404
    assert (await client.get(f"{url}/{body['id']}", headers=stranger.headers)).status_code == 404
    assert (
        await client.get(f"{url}/{engagement_id}", headers=actors.admin.headers)
    ).status_code == 404

    assert await audit_actions(client, actors.admin, engagement_id) == [
        "engagement.created",
        "engagement.checked_in",
        "engagement.checked_in",
    ]


async def _partner_of(client: httpx.AsyncClient, actors: Actors, url: str) -> str:
    engagement = await client.get(url.removesuffix("/check-ins"), headers=actors.admin.headers)
    return str(engagement.json()["partner_id"])


@pytest.mark.parametrize(
    ("case", "changes"),
    [
        ("rating above 4", {"ratings": dict.fromkeys(QUALITIES, 3) | {"stable": 5}}),
        ("rating of 0", {"ratings": dict.fromkeys(QUALITIES, 3) | {"stable": 0}}),
        ("rating as a boolean", {"ratings": dict.fromkeys(QUALITIES, 3) | {"stable": True}}),
        ("a quality missing", {"ratings": dict.fromkeys(QUALITIES[1:], 3)}),
        ("an unknown quality", {"ratings": dict.fromkeys(QUALITIES, 3) | {"fun": 3}}),
        ("unknown progress", {"progress": "great"}),
        ("held before the start", {"held_on": "2026-01-04"}),
        ("held tomorrow", {"held_on": (date.today() + timedelta(days=1)).isoformat()}),
        ("a date-time", {"held_on": "2026-02-01T10:00:00Z"}),
        ("overlong notes", {"notes": "n" * 10_001}),
    ],
)
async def test_a_bad_check_in_is_422_and_records_nothing(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, case: str, changes: dict[str, Any]
) -> None:
    engagement_id = await _engagement(app, client, actors)
    url = f"/v1/engagements/{engagement_id}/check-ins"
    response = await client.post(
        url, json=check_in_payload(**changes), headers=actors.district.headers
    )
    assert response.status_code == 422, (case, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=actors.district.headers)).json()["items"] == []


async def test_a_planned_engagement_takes_no_check_in_until_it_starts(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    engagement_id = await _engagement(app, client, actors, status="planned")
    url = f"/v1/engagements/{engagement_id}/check-ins"
    refused = await client.post(url, json=check_in_payload(), headers=actors.district.headers)
    assert refused.status_code == 409
    activated = await client.patch(
        f"/v1/engagements/{engagement_id}",
        json={"status": "active"},
        headers=actors.district.headers | {"If-Match": '"1"'},
    )
    assert activated.status_code == 200, activated.text
    accepted = await client.post(url, json=check_in_payload(), headers=actors.district.headers)
    assert accepted.status_code == 201, accepted.text


async def test_a_retried_check_in_is_recorded_once(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    engagement_id = await _engagement(app, client, actors)
    url = f"/v1/engagements/{engagement_id}/check-ins"
    headers = actors.district.headers | {"Idempotency-Key": f"check-in-{engagement_id}"}
    first = await client.post(url, json=check_in_payload(), headers=headers)
    again = await client.post(url, json=check_in_payload(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    listed = await client.get(url, headers=actors.district.headers)
    assert [item["id"] for item in listed.json()["items"]] == [first.json()["id"]]
    other = await client.post(url, json=check_in_payload(progress="met"), headers=headers)
    assert other.status_code == 409
