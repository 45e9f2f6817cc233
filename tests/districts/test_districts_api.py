"""PATCH /v1/districts/{id}: state admins keep a district's facts current, with versions."""

import httpx
import pytest

from tests.factories import Actors, audit_actions, create_district, next_nces_id, unique


def _if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


async def test_an_admin_brings_a_district_up_to_date(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    district = await create_district(client, actors.admin, accountability_status="none")
    url = f"/v1/districts/{district['id']}"
    change = {"enrollment": 5120, "accountability_status": "tsi"}

    response = await client.patch(url, json=change, headers=actors.admin.headers | _if_match(1))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["enrollment"], body["accountability_status"]) == (5120, "tsi")
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'
    assert body["name"] == district["name"]
    assert (await client.get(url, headers=actors.admin.headers)).json() == body
    events = await client.get(
        "/v1/audit-events", params={"entity_id": district["id"]}, headers=actors.admin.headers
    )
    updated = events.json()["items"][-1]
    assert updated["action"] == "district.updated"
    assert updated["changes"] == {
        "enrollment": [district["enrollment"], 5120],
        "accountability_status": ["none", "tsi"],
    }


async def test_a_district_change_needs_the_version_it_read(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    district = await create_district(client, actors.admin)
    url = f"/v1/districts/{district['id']}"

    missing = await client.patch(url, json={"enrollment": 1}, headers=actors.admin.headers)
    assert missing.status_code == 428
    first = await client.patch(
        url, json={"enrollment": 1}, headers=actors.admin.headers | _if_match(1)
    )
    assert first.status_code == 200
    stale = await client.patch(
        url, json={"enrollment": 2}, headers=actors.admin.headers | _if_match(1)
    )
    assert stale.status_code == 412
    assert (await client.get(url, headers=actors.admin.headers)).json()["enrollment"] == 1


async def test_an_nces_id_stays_unique(client: httpx.AsyncClient, actors: Actors) -> None:
    taken = await create_district(client, actors.admin)
    district = await create_district(client, actors.admin)
    url = f"/v1/districts/{district['id']}"

    clash = await client.patch(
        url, json={"nces_id": taken["nces_id"]}, headers=actors.admin.headers | _if_match(1)
    )
    assert clash.status_code == 409
    assert taken["nces_id"] in clash.json()["detail"]
    assert (await client.get(url, headers=actors.admin.headers)).json() == district

    recoded = await client.patch(
        url, json={"nces_id": next_nces_id()}, headers=actors.admin.headers | _if_match(1)
    )
    assert recoded.status_code == 200


async def test_a_change_that_changes_nothing_writes_nothing(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    district = await create_district(client, actors.admin)
    url = f"/v1/districts/{district['id']}"
    same = {"region": district["region"], "enrollment": district["enrollment"]}

    response = await client.patch(url, json=same, headers=actors.admin.headers | _if_match(1))

    assert response.status_code == 200
    assert response.json() == district
    assert await audit_actions(client, actors.admin, district["id"]) == ["district.created"]


@pytest.mark.parametrize(
    "change",
    [
        {"enrollment": -1},
        {"enrollment": 2_000_001},
        {"nces_id": "12345"},
        {"accountability_status": "failing"},
        {"locale": None},
        {"name": ""},
        {"version": 7},
    ],
)
async def test_bad_changes_are_422(
    client: httpx.AsyncClient, actors: Actors, change: dict[str, object]
) -> None:
    district = await create_district(client, actors.admin)
    response = await client.patch(
        f"/v1/districts/{district['id']}", json=change, headers=actors.admin.headers | _if_match(1)
    )
    assert response.status_code == 422, response.text


async def test_only_state_admins_change_districts(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    url = f"/v1/districts/{actors.district_record['id']}"
    change = {"accountability_status": "none"}
    for actor in (actors.reviewer, actors.district, actors.partner):
        response = await client.patch(url, json=change, headers=actor.headers | _if_match(1))
        assert response.status_code == 403, actor
    unknown = await client.patch(
        "/v1/districts/00000000-0000-4000-8000-000000000000",
        json=change,
        headers=actors.admin.headers | _if_match(1),
    )
    assert unknown.status_code == 404
    read = await client.get(url, headers=actors.admin.headers)
    assert read.json() == actors.district_record


async def test_staff_find_districts_by_nces_id_region_and_status(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    region = unique("r")
    csi = await create_district(client, actors.admin, region=region, accountability_status="csi")
    tsi = await create_district(client, actors.admin, region=region, accountability_status="tsi")
    await create_district(client, actors.admin, accountability_status="csi")

    async def found(headers: dict[str, str], **filters: str) -> list[str]:
        response = await client.get("/v1/districts", params=filters, headers=headers)
        assert response.status_code == 200, response.text
        return [district["id"] for district in response.json()["items"]]

    staff = actors.reviewer.headers
    assert await found(staff, nces_id=tsi["nces_id"]) == [tsi["id"]]
    assert sorted(await found(staff, region=region)) == sorted([csi["id"], tsi["id"]])
    assert await found(staff, region=region, accountability_status="csi") == [csi["id"]]
    # A district user's list holds its own district at most, whatever the filter.
    assert await found(actors.district.headers, nces_id=tsi["nces_id"]) == []
    own = actors.district_record
    assert await found(actors.district.headers, nces_id=own["nces_id"]) == [own["id"]]
    for bad in ({"nces_id": "12345"}, {"accountability_status": "failing"}, {"region": "A B"}):
        response = await client.get("/v1/districts", params=bad, headers=staff)
        assert response.status_code == 422, bad
