"""Needs profiles end to end: ownership, validation, If-Match and the audit trail."""

import httpx
import pytest

from tests.factories import (
    Actors,
    audit_actions,
    create_district,
    create_needs,
    needs_payload,
)


async def test_district_creates_reads_and_lists_its_own_profiles(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id = actors.district_record["id"]
    payload = needs_payload(
        title="A first profile",
        school_name="Lincoln Elementary",
        readiness={"beliefs": 4, "collective_efficacy": 2},
    )
    response = await client.post(
        f"/v1/districts/{district_id}/needs", json=payload, headers=actors.district.headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/needs/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["district_id"] == district_id
    assert body["needs"] == payload["needs"]
    assert body["readiness"] == {
        "beliefs": 4,
        "collective_efficacy": 2,
        "adequate_resources": None,
        "policy_environment": None,
    }

    read = await client.get(f"/v1/needs/{body['id']}", headers=actors.district.headers)
    assert read.status_code == 200
    assert read.json() == body

    second = await create_needs(client, actors.admin, district_id, title="B second profile")
    listed = await client.get(
        f"/v1/districts/{district_id}/needs", params={"limit": 1}, headers=actors.district.headers
    )
    assert [item["id"] for item in listed.json()["items"]] == [body["id"]]
    rest = await client.get(
        f"/v1/districts/{district_id}/needs",
        params={"cursor": listed.json()["next_cursor"]},
        headers=actors.district.headers,
    )
    assert [item["id"] for item in rest.json()["items"]] == [second["id"]]
    assert rest.json()["next_cursor"] is None
    assert await audit_actions(client, actors.admin, body["id"]) == ["needs_profile.created"]


async def test_another_districts_profiles_are_not_found_and_partners_are_forbidden(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    other = await create_district(client, actors.admin)
    theirs = await create_needs(client, actors.admin, other["id"])
    district = actors.district.headers
    assert (await client.get(f"/v1/needs/{theirs['id']}", headers=district)).status_code == 404
    assert (
        await client.get(f"/v1/districts/{other['id']}/needs", headers=district)
    ).status_code == 404
    created = await client.post(
        f"/v1/districts/{other['id']}/needs", json=needs_payload(), headers=district
    )
    assert created.status_code == 404
    patched = await client.patch(
        f"/v1/needs/{theirs['id']}",
        json={"title": "Mine now"},
        headers=district | {"If-Match": '"1"'},
    )
    assert patched.status_code == 404

    partner = actors.partner.headers
    assert (await client.get(f"/v1/needs/{theirs['id']}", headers=partner)).status_code == 403
    assert (
        await client.get(f"/v1/districts/{other['id']}/needs", headers=partner)
    ).status_code == 403
    assert (
        await client.get(f"/v1/needs/{theirs['id']}", headers=actors.reviewer.headers)
    ).status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"needs": []},
        {"needs": [{"need_domain": "staffing", "priority": 6}]},
        {"needs": [{"need_domain": "staffing", "priority": "5"}]},
        {"needs": [{"need_domain": "staffing", "priority": 1}] * 2},
        {"needs": [{"need_domain": f"d{i}", "priority": 1} for i in range(21)]},
        {"needs": [{"need_domain": "no_such_domain", "priority": 3}]},
        {"student_groups": [f"g{i}" for i in range(21)]},
        {"student_groups": ["Not A Code"]},
        {"budget_per_school_year": 100_000_001},
        {"budget_per_school_year": 5.5},
        {"budget_per_school_year": "60000"},
        {"min_evidence_tier": 5},
        {"funding_source": "title_ix"},
        {"title": "bad\x00title"},
        {"school_name": "x" * 201},
        {"readiness": {"beliefs": 0}},
        {"readiness": {"mood": 3}},
        {"surprise": True},
    ],
)
async def test_invalid_profiles_are_422(
    client: httpx.AsyncClient, actors: Actors, overrides: dict[str, object]
) -> None:
    response = await client.post(
        f"/v1/districts/{actors.district_record['id']}/needs",
        json=needs_payload(**overrides),
        headers=actors.district.headers,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"]


async def test_patch_requires_if_match_and_records_one_event(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    profile = await create_needs(client, actors.district, actors.district_record["id"])
    url = f"/v1/needs/{profile['id']}"
    headers = actors.district.headers
    change = {"needs": [{"need_domain": "literacy", "priority": 4}], "school_name": None}
    assert (await client.patch(url, json=change, headers=headers)).status_code == 428

    ok = await client.patch(url, json=change, headers=headers | {"If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert ok.json()["needs"] == change["needs"]
    assert ok.json()["title"] == profile["title"]

    stale = await client.patch(url, json={"title": "Late"}, headers=headers | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert (
        await client.patch(url, json={"title": None}, headers=headers | {"If-Match": '"2"'})
    ).status_code == 422
    assert await audit_actions(client, actors.admin, profile["id"]) == [
        "needs_profile.created",
        "needs_profile.updated",
    ]
