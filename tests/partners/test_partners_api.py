"""The partner API end to end: create, read, update with If-Match, list, filters, lifecycle."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.core.base import utcnow
from tests.factories import (
    Actor,
    Actors,
    create_partner,
    designate,
    force_partner_state,
    partner_payload,
    unique,
)


async def test_create_returns_201_with_location_etag_and_draft_status(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    payload = partner_payload(need_domains=["staffing", "staffing", "literacy"])
    response = await client.post("/v1/partners", json=payload, headers=admin.headers)
    assert response.status_code == 201
    body = response.json()
    assert response.headers["Location"] == f"/v1/partners/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["status"] == "draft"
    assert body["designation"] is None
    assert body["evidence_tiers"] == {}
    assert body["need_domains"] == ["literacy", "staffing"]
    assert body["cost_per_school_year"] == payload["cost_per_school_year"]
    assert body["version"] == 1
    assert body["created_at"].endswith("Z")

    read = await client.get(response.headers["Location"], headers=admin.headers)
    assert read.status_code == 200
    assert read.headers["ETag"] == '"1"'
    assert read.json() == body


async def test_patch_requires_if_match_and_rejects_stale_versions(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    partner = await create_partner(client, admin)
    url = f"/v1/partners/{partner['id']}"

    missing = await client.patch(url, json={"capacity": 9}, headers=admin.headers)
    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"].endswith("/precondition-required")
    # The missing precondition is named even when the body is wrong too.
    invalid = await client.patch(url, json={"capacity": -1}, headers=admin.headers)
    assert invalid.status_code == 428
    assert (await client.get(url, headers=admin.headers)).json()["version"] == 1

    ok = await client.patch(url, json={"capacity": 9}, headers=admin.headers | {"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.json()["capacity"] == 9
    assert ok.json()["version"] == 2
    assert ok.headers["ETag"] == '"2"'

    stale = await client.patch(
        url, json={"capacity": 3}, headers=admin.headers | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert (await client.get(url, headers=admin.headers)).json()["capacity"] == 9


async def test_changing_only_a_list_field_still_moves_the_version(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    partner = await create_partner(client, admin)
    url = f"/v1/partners/{partner['id']}"
    response = await client.patch(
        url, json={"regions": ["south", "east"]}, headers=admin.headers | {"If-Match": '"1"'}
    )
    assert response.status_code == 200
    assert response.json()["regions"] == ["east", "south"]
    assert response.json()["version"] == 2


async def test_two_writers_with_the_same_etag_one_wins_one_gets_412(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    partner = await create_partner(client, admin)
    url = f"/v1/partners/{partner['id']}"
    headers = admin.headers | {"If-Match": '"1"'}
    first, second = await asyncio.gather(
        client.patch(url, json={"capacity": 11}, headers=headers),
        client.patch(url, json={"capacity": 22}, headers=headers),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    final = (await client.get(url, headers=admin.headers)).json()
    assert final["capacity"] == winner.json()["capacity"]
    assert final["version"] == 2


async def test_patch_can_clear_website_but_not_required_fields(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    partner = await create_partner(client, admin)
    url = f"/v1/partners/{partner['id']}"
    headers = admin.headers | {"If-Match": '"1"'}
    assert (await client.patch(url, json={"name": None}, headers=headers)).status_code == 422
    cleared = await client.patch(url, json={"website": None}, headers=headers)
    assert cleared.status_code == 200
    assert cleared.json()["website"] is None


async def test_pagination_walks_every_partner_once(client: httpx.AsyncClient, admin: Actor) -> None:
    region = unique("pg").lower()
    names = sorted(unique("Paged") for _ in range(7))
    for name in names:
        await create_partner(client, admin, name=name, regions=[region])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"region": region, "limit": 3} | ({"cursor": cursor} if cursor else {})
        response = await client.get("/v1/partners", params=params, headers=admin.headers)
        assert response.status_code == 200
        page = response.json()
        seen += [item["name"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == names


async def test_every_filter_narrows_the_list(
    client: httpx.AsyncClient, admin: Actor, app: FastAPI
) -> None:
    region = unique("flt").lower()
    word = unique("kw")
    base = {"regions": [region]}
    literacy = await create_partner(
        client, admin, need_domains=["literacy"], grade_bands=["high"], locales=["rural"], **base
    )
    maths = await create_partner(
        client,
        admin,
        need_domains=["mathematics"],
        grade_bands=["middle"],
        locales=["town"],
        description=f"Tutoring with {word} inside, 9% of it online.",
        **base,
    )
    approved = await create_partner(client, admin, need_domains=["mathematics"], **base)
    lapsed = await create_partner(client, admin, need_domains=["literacy"], **base)
    now = utcnow()
    await force_partner_state(
        app,
        approved["id"],
        status="approved",
        approved_at=now - timedelta(days=10),
        expires_at=now + timedelta(days=300),
        evidence_tiers={"mathematics": 2},
    )
    await force_partner_state(
        app,
        lapsed["id"],
        status="approved",
        approved_at=now - timedelta(days=1000),
        expires_at=now - timedelta(days=1),
        evidence_tiers={"literacy": 4},
    )

    async def ids(**params: object) -> set[str]:
        response = await client.get(
            "/v1/partners", params={"region": region, **params}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    assert await ids() == {literacy["id"], maths["id"], approved["id"], lapsed["id"]}
    assert await ids(need_domain="literacy") == {literacy["id"], lapsed["id"]}
    assert await ids(grade_band="high") == {literacy["id"]}
    assert await ids(locale="town") == {maths["id"]}
    assert await ids(q=word.upper()) == {maths["id"]}
    assert await ids(q="100%") == set()
    # Texts with no three letters or digits in a row (no trigram to look up) match as they
    # are too, wildcard characters included.
    assert await ids(q="9%") == {maths["id"]}
    assert await ids(q="9_") == set()
    assert await ids(q="% O") == {maths["id"]}
    assert await ids(status="draft") == {literacy["id"], maths["id"]}
    assert await ids(status="approved") == {approved["id"]}
    assert await ids(status="expired") == {lapsed["id"]}
    assert await ids(min_evidence_tier=2) == {approved["id"]}
    assert await ids(min_evidence_tier=4) == {approved["id"], lapsed["id"]}
    assert await ids(min_evidence_tier=1) == set()
    assert await ids(min_evidence_tier=4, need_domain="literacy") == {lapsed["id"]}
    assert await ids(min_evidence_tier=3, need_domain="literacy") == set()

    lapsed_read = await client.get(f"/v1/partners/{lapsed['id']}", headers=admin.headers)
    assert lapsed_read.json()["status"] == "expired"
    assert lapsed_read.json()["evidence_tiers"] == {"literacy": 4}


async def test_a_search_ignores_the_case_of_every_letter(
    client: httpx.AsyncClient, admin: Actor, app: FastAPI
) -> None:
    """Each database lowers the search text as it lowers names and descriptions, so letters
    beyond A-Z match too, with or without a trigram to look up."""
    region = unique("utf").lower()
    tag = unique("x")
    school = await create_partner(client, admin, name=f"École Réussite {tag}", regions=[region])
    city = await create_partner(
        client, admin, name=f"İstanbul Partners {tag}", description="Öğretim", regions=[region]
    )
    await designate(app, school["id"])

    async def ids(q: str) -> set[str]:
        response = await client.get(
            "/v1/partners", params={"region": region, "q": q}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    for q in ("École", "école", "ÉCOLE", "RÉUSSITE", "é", "E RÉ"):
        assert await ids(q) == {school["id"]}, q
    for q in ("İstanbul", "İSTANBUL", "öğ", "ÖĞRETIM"):
        assert await ids(q) == {city["id"]}, q
    listed = await client.get("/v1/directory", params={"region": region, "q": "éCOLE"})
    assert [item["id"] for item in listed.json()["items"]] == [school["id"]]
    download = await client.get(
        "/v1/directory", params={"region": region, "q": "ÉCOLE"}, headers={"Accept": "text/csv"}
    )
    assert school["id"] in download.text


async def test_idempotency_key_replays_the_first_response(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    payload = partner_payload()
    headers = admin.headers | {"Idempotency-Key": unique("idem")}
    first = await client.post("/v1/partners", json=payload, headers=headers)
    again = await client.post("/v1/partners", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    listed = await client.get("/v1/partners", params={"q": payload["name"]}, headers=admin.headers)
    assert len(listed.json()["items"]) == 1

    other_body = await client.post("/v1/partners", json=partner_payload(), headers=headers)
    assert other_body.status_code == 409


async def test_concurrent_creates_with_one_idempotency_key_create_one_partner(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    payload = partner_payload()
    headers = admin.headers | {"Idempotency-Key": unique("idem")}
    responses = await asyncio.gather(
        *(client.post("/v1/partners", json=payload, headers=headers) for _ in range(4))
    )
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert all(r.status_code in {201, 409, 503} for r in responses)
    assert len({r.json()["id"] for r in created}) == 1
    listed = await client.get("/v1/partners", params={"q": payload["name"]}, headers=admin.headers)
    assert len(listed.json()["items"]) == 1


@pytest.mark.parametrize(
    ("actor_role", "expected"), [("partner", 200), ("district", 404), ("state_reviewer", 200)]
)
async def test_who_may_read_a_draft_partner(
    client: httpx.AsyncClient, actors: Actors, actor_role: str, expected: int
) -> None:
    actor = actors.by_role()[actor_role]
    response = await client.get(
        f"/v1/partners/{actors.partner_record['id']}", headers=actor.headers
    )
    assert response.status_code == expected


async def test_a_partner_user_sees_and_edits_only_its_own_profile(
    client: httpx.AsyncClient, actors: Actors, admin: Actor
) -> None:
    other = await create_partner(client, admin)
    own_url = f"/v1/partners/{actors.partner_record['id']}"
    partner = actors.partner

    assert (
        await client.get(f"/v1/partners/{other['id']}", headers=partner.headers)
    ).status_code == 404
    listed = await client.get("/v1/partners", headers=partner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [actors.partner_record["id"]]

    edit = await client.patch(
        own_url,
        json={"description": "Updated by us"},
        headers=partner.headers | {"If-Match": '"1"'},
    )
    assert edit.status_code == 200
    assert edit.json()["notes"] is None
    staff_only = await client.patch(
        own_url, json={"notes": "we are great"}, headers=partner.headers | {"If-Match": '"2"'}
    )
    assert staff_only.status_code == 422
    for field, value in (("status", "approved"), ("designation", {}), ("evidence_tiers", {"x": 1})):
        mass = await client.patch(
            own_url, json={field: value}, headers=partner.headers | {"If-Match": '"2"'}
        )
        assert mass.status_code == 422, field
    create = await client.post("/v1/partners", json=partner_payload(), headers=partner.headers)
    assert create.status_code == 403


async def test_staff_notes_are_hidden_from_the_partner(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    url = f"/v1/partners/{actors.partner_record['id']}"
    await client.patch(
        url, json={"notes": "Check references"}, headers=actors.admin.headers | {"If-Match": '"1"'}
    )
    assert (await client.get(url, headers=actors.admin.headers)).json()[
        "notes"
    ] == "Check references"
    assert (await client.get(url, headers=actors.partner.headers)).json()["notes"] is None


async def test_districts_see_designated_partners_only(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    now = utcnow()
    designated = await create_partner(client, actors.admin)
    await force_partner_state(
        app,
        designated["id"],
        status="approved",
        approved_at=now,
        expires_at=now + timedelta(days=30),
    )
    assert (
        await client.get(f"/v1/partners/{designated['id']}", headers=actors.district.headers)
    ).status_code == 200
    edit = await client.patch(
        f"/v1/partners/{designated['id']}",
        json={"capacity": 1},
        headers=actors.district.headers | {"If-Match": '"2"'},
    )
    assert edit.status_code == 403


async def test_anonymous_callers_get_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/partners")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_contacts_are_private_unless_marked_public(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    url = f"/v1/partners/{actors.partner_record['id']}"
    contacts = [
        {"name": "Dana Finance", "title": "CFO", "email": "Dana@Partner.example.org"},
        {"name": "Sam Schools", "phone": "+1 (555) 010-2000", "private": False},
    ]
    edit = await client.patch(
        url, json={"contacts": contacts}, headers=actors.partner.headers | {"If-Match": '"1"'}
    )
    assert edit.status_code == 200, edit.text
    private, public = edit.json()["contacts"]
    assert private == {
        "name": "Dana Finance",
        "title": "CFO",
        "email": "dana@partner.example.org",
        "phone": None,
        "private": True,
    }
    assert public["private"] is False
    for actor in (actors.admin, actors.reviewer, actors.partner):
        assert (await client.get(url, headers=actor.headers)).json()["contacts"] == [
            private,
            public,
        ]
    await force_partner_state(
        app,
        actors.partner_record["id"],
        status="approved",
        approved_at=utcnow(),
        expires_at=utcnow() + timedelta(days=30),
    )
    as_district = await client.get(url, headers=actors.district.headers)
    assert as_district.json()["contacts"] == [public]
    listed = await client.get(
        "/v1/partners", params={"q": edit.json()["name"]}, headers=actors.district.headers
    )
    assert len(listed.json()["items"]) == 1
    assert "Dana Finance" not in listed.text
    assert "Sam Schools" in listed.text
    events = await client.get(
        "/v1/audit-events",
        params={"entity_id": url.rsplit("/", 1)[1]},
        headers=actors.admin.headers,
    )
    assert events.json()["items"][-1]["changes"]["contacts"] == [[], [private, public]]


@pytest.mark.parametrize(
    "contacts",
    [
        [{"name": "No way to reach"}],
        [{"name": "Bad mail", "email": "not-an-address"}],
        [{"name": "Bad phone", "phone": "call me"}],
        [{"name": "Truthy", "email": "a@example.org", "private": "yes"}],
        [{"name": "Extra", "email": "a@example.org", "fax": "1234567"}],
        [{"name": f"Person {n}", "email": f"p{n}@example.org"} for n in range(21)],
    ],
)
async def test_a_contact_must_be_reachable_and_well_formed(
    client: httpx.AsyncClient, admin: Actor, contacts: list[dict[str, object]]
) -> None:
    response = await client.post(
        "/v1/partners", json=partner_payload(contacts=contacts), headers=admin.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
