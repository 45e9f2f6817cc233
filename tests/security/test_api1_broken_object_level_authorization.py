"""API1:2023 Broken Object Level Authorization.

Two tenants of the same role: a district and a partner (the victims, from `actors`) and a
second district and partner (the attackers). Every route that takes a tenant's object id, in
the path, the body or a list filter, is called by the other tenant with the victim's ids: each
answers 404 (an object the caller may not see does not exist for it, as the contract says),
lists come back without the victim's rows, and afterwards the victim's objects are unchanged
and the audit trail holds no write by an attacker on them. The role-by-route matrix (which
role may call a route at all) is tests/auth/test_authorization_matrix.py.
"""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    Actor,
    Actors,
    check_in_payload,
    create_district,
    create_needs,
    create_partner,
    designate,
    engagement_payload,
    evidence_payload,
    make_actor,
    needs_payload,
    review_in_progress,
    submit_evidence,
)
from tests.security.helpers import PDF, assert_problem, fill


@dataclass(frozen=True)
class Victim:
    ids: dict[str, str]
    versions: dict[str, int]  # path of a mutable object -> its version before the attacks


@dataclass(frozen=True)
class Attackers:
    district: Actor
    partner: Actor


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def victim(app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> Victim:
    partner_id = actors.partner_record["id"]
    district_id = actors.district_record["id"]
    evidence = await submit_evidence(client, actors.partner, partner_id)
    review_id = await review_in_progress(client, actors, partner_id)
    await designate(app, partner_id)
    needs = await create_needs(client, actors.district, district_id)
    engagement = await _created(
        await client.post(
            "/v1/engagements",
            json=engagement_payload(partner_id, district_id),
            headers=actors.admin.headers,
        )
    )
    check_in = await _created(
        await client.post(
            f"/v1/engagements/{engagement['id']}/check-ins",
            json=check_in_payload(),
            headers=actors.district.headers,
        )
    )
    match = await _created(
        await client.post(
            "/v1/matches", json={"needs_id": needs["id"]}, headers=actors.district.headers
        )
    )
    keys = {
        role: await _created(
            await client.post("/v1/api-keys", json={"name": "victim"}, headers=actor.headers)
        )
        for role, actor in (("partner", actors.partner), ("district", actors.district))
    }
    ids = {
        "partner_id": partner_id,
        "district_id": district_id,
        "evidence_id": evidence["id"],
        "review_id": review_id,
        "needs_id": needs["id"],
        "engagement_id": engagement["id"],
        "check_in_id": check_in["id"],
        "match_id": match["id"],
        "partner_key_id": keys["partner"]["id"],
        "district_key_id": keys["district"]["id"],
        "partner_user_id": str(actors.partner.user_id),
        "district_user_id": str(actors.district.user_id),
    }
    versions = {}
    for path in (
        f"/v1/partners/{partner_id}",
        f"/v1/evidence/{evidence['id']}",
        f"/v1/needs/{needs['id']}",
        f"/v1/engagements/{engagement['id']}",
    ):
        read = await client.get(path, headers=actors.admin.headers)
        versions[path] = read.json()["version"]
    return Victim(ids, versions)


@pytest.fixture
async def attackers(app: FastAPI, client: httpx.AsyncClient, admin: Actor) -> Attackers:
    district = await create_district(client, admin)
    partner = await create_partner(client, admin)
    return Attackers(
        district=await make_actor(app, "district", district_id=uuid.UUID(district["id"])),
        partner=await make_actor(app, "partner", partner_id=uuid.UUID(partner["id"])),
    )


def _if_match(victim: Victim, path: str) -> dict[str, str]:
    # The right version: the answer must not be a 412 that hides whether the id was found.
    return {"If-Match": f'"{victim.versions[path]}"'}


def _partner_attacks(victim: Victim) -> list[tuple[str, str, dict[str, Any]]]:
    ids = victim.ids
    partner = f"/v1/partners/{ids['partner_id']}"
    evidence = f"/v1/evidence/{ids['evidence_id']}"
    return [
        ("GET", partner, {}),
        ("PATCH", partner, {"json": {"description": "Taken over."}} | {"h": partner}),
        ("POST", f"{partner}/status", {"json": {"status": "withdrawn", "reason": "Taken over."}}),
        ("GET", f"{partner}/evidence", {}),
        ("POST", f"{partner}/evidence", {"json": evidence_payload()}),
        ("GET", f"{partner}/reviews", {}),
        ("GET", f"{partner}/designations", {}),
        ("GET", evidence, {}),
        ("PATCH", evidence, {"json": {"title": "Taken over"}} | {"h": evidence}),
        ("PUT", f"{evidence}/document", {"content": PDF, "pdf": True} | {"h": evidence}),
        ("GET", f"{evidence}/document", {}),
        ("GET", fill("/v1/reviews/{review_id}", ids), {}),
        ("GET", fill("/v1/engagements/{engagement_id}/check-ins", ids), {}),
        ("GET", fill("/v1/engagements/{engagement_id}/check-ins/{check_in_id}", ids), {}),
        ("DELETE", fill("/v1/api-keys/{partner_key_id}", ids), {}),
        ("DELETE", fill("/v1/api-keys/{district_key_id}", ids), {}),
    ]


def _district_attacks(victim: Victim, own_district: str) -> list[tuple[str, str, dict[str, Any]]]:
    ids = victim.ids
    district = f"/v1/districts/{ids['district_id']}"
    needs = f"/v1/needs/{ids['needs_id']}"
    engagement = f"/v1/engagements/{ids['engagement_id']}"
    return [
        ("GET", district, {}),
        ("GET", f"{district}/needs", {}),
        ("POST", f"{district}/needs", {"json": needs_payload()}),
        ("GET", needs, {}),
        ("PATCH", needs, {"json": {"title": "Taken over"}} | {"h": needs}),
        ("GET", engagement, {}),
        ("PATCH", engagement, {"json": {"status": "terminated"}} | {"h": engagement}),
        ("GET", f"{engagement}/check-ins", {}),
        ("GET", fill("/v1/engagements/{engagement_id}/check-ins/{check_in_id}", ids), {}),
        ("POST", f"{engagement}/check-ins", {"json": check_in_payload()}),
        ("GET", fill("/v1/matches/{match_id}", ids), {}),
        ("POST", "/v1/matches", {"json": {"needs_id": ids["needs_id"]}}),
        ("POST", "/v1/matches", {"json": needs_payload() | {"district_id": ids["district_id"]}}),
        (
            "POST",
            "/v1/engagements",
            {"json": engagement_payload(ids["partner_id"], ids["district_id"])},
        ),
        (
            "POST",
            "/v1/engagements",
            {
                "json": engagement_payload(ids["partner_id"], own_district)
                | {"needs_id": ids["needs_id"]}
            },
        ),
        ("DELETE", fill("/v1/api-keys/{district_key_id}", ids), {}),
        ("DELETE", fill("/v1/api-keys/{partner_key_id}", ids), {}),
    ]


async def _attack(
    client: httpx.AsyncClient,
    victim: Victim,
    attacker: Actor,
    attacks: list[tuple[str, str, dict[str, Any]]],
) -> dict[str, int]:
    """Each attack's status, for those that did not answer a 404 problem."""
    wrong: dict[str, int] = {}
    for method, path, options in attacks:
        headers = dict(attacker.headers)
        if "h" in options:
            headers |= _if_match(victim, options["h"])
        if options.get("pdf"):
            headers["Content-Type"] = "application/pdf"
        response = await client.request(
            method, path, headers=headers, json=options.get("json"), content=options.get("content")
        )
        if response.status_code != 404:
            wrong[f"{method} {path} {options.get('json', '')}"[:160]] = response.status_code
        else:
            assert_problem(response, 404)
    return wrong


async def _assert_untouched(
    client: httpx.AsyncClient, admin: Actor, victim: Victim, *attackers: Actor
) -> None:
    for path, version in victim.versions.items():
        read = await client.get(path, headers=admin.headers)
        assert read.status_code == 200, path
        assert read.json()["version"] == version, f"{path} was changed"
    keys = await client.get("/v1/api-keys", params={"limit": 200}, headers=admin.headers)
    revoked = {item["id"] for item in keys.json()["items"] if item["revoked_at"] is not None}
    assert not revoked & {victim.ids["partner_key_id"], victim.ids["district_key_id"]}
    targets = set(victim.ids.values())
    for attacker in attackers:
        events = await client.get(
            "/v1/audit-events",
            params={"actor_id": str(attacker.user_id), "limit": 200},
            headers=admin.headers,
        )
        touched = {event["entity_id"] for event in events.json()["items"]} & targets
        assert touched == set(), f"{attacker.role} wrote to the victim's objects"


async def test_a_partner_reaches_no_other_partners_objects(
    client: httpx.AsyncClient, actors: Actors, victim: Victim, attackers: Attackers
) -> None:
    wrong = await _attack(client, victim, attackers.partner, _partner_attacks(victim))
    assert wrong == {}, "another partner's objects must be 404"
    await _assert_untouched(client, actors.admin, victim, attackers.partner)


async def test_a_district_reaches_no_other_districts_objects(
    client: httpx.AsyncClient, actors: Actors, victim: Victim, attackers: Attackers
) -> None:
    assert attackers.district.district_id is not None
    attacks = _district_attacks(victim, str(attackers.district.district_id))
    wrong = await _attack(client, victim, attackers.district, attacks)
    assert wrong == {}, "another district's objects must be 404"
    await _assert_untouched(client, actors.admin, victim, attackers.district)


async def test_list_filters_naming_another_tenant_return_nothing_of_it(
    client: httpx.AsyncClient, actors: Actors, victim: Victim, attackers: Attackers
) -> None:
    ids = victim.ids
    cases = [
        (attackers.district, "/v1/engagements", {"district_id": ids["district_id"]}),
        (attackers.district, "/v1/engagements", {"partner_id": ids["partner_id"]}),
        (attackers.district, "/v1/matches", {"district_id": ids["district_id"]}),
        (attackers.district, "/v1/api-keys", {"user_id": ids["district_user_id"]}),
        (attackers.district, "/v1/districts", {}),
        (attackers.partner, "/v1/engagements", {"partner_id": ids["partner_id"]}),
        (attackers.partner, "/v1/api-keys", {"user_id": ids["partner_user_id"]}),
        (attackers.partner, "/v1/partners", {"limit": 200}),
    ]
    for attacker, path, params in cases:
        response = await client.get(path, params=params, headers=attacker.headers)
        assert response.status_code == 200, (path, params, response.text)
        seen = {str(value) for item in response.json()["items"] for value in item.values()}
        leaked = seen & set(ids.values())
        assert leaked == set(), (attacker.role, path, params, leaked)
    # The victims still see their own: the filters above were not simply broken.
    own = await client.get(
        "/v1/engagements",
        params={"district_id": ids["district_id"]},
        headers=actors.district.headers,
    )
    assert [item["id"] for item in own.json()["items"]] == [ids["engagement_id"]]


async def test_guessing_ids_finds_nothing(
    client: httpx.AsyncClient, actors: Actors, attackers: Attackers
) -> None:
    """Random, nil and max UUIDs are 404 like another tenant's: existence is not revealed."""
    for guess in (uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)):
        for attacker, template in (
            (attackers.partner, "/v1/partners/{}"),
            (attackers.partner, "/v1/evidence/{}"),
            (attackers.partner, "/v1/reviews/{}"),
            (attackers.district, "/v1/districts/{}"),
            (attackers.district, "/v1/needs/{}"),
            (attackers.district, "/v1/engagements/{}"),
            (attackers.district, "/v1/matches/{}"),
        ):
            response = await client.get(template.format(guess), headers=attacker.headers)
            assert_problem(response, 404)
