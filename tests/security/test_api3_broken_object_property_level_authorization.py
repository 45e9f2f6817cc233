"""API3:2023 Broken Object Property Level Authorization.

Two halves. Mass assignment: no client sets a field the server owns (ids, statuses, tiers,
designations, versions, who decided what, a key's role): every such field sent to any write
route is a 422 naming it, and nothing changes. Excessive data exposure: state-only text planted
through the real flows (staff notes, reviewers' scores and notes, conflict statements, decision
rationales) never reaches the partner, a district or the public through any read route, and no
response ever carries a password, a hash or a stored key.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    Actor,
    Actors,
    check_in_payload,
    create_needs,
    create_partner,
    designate,
    district_payload,
    engagement_payload,
    evidence_payload,
    move_partner,
    needs_payload,
    partner_payload,
    review_in_progress,
    rubric_payload,
    scores_payload,
    submit_evidence,
    unique,
)
from tests.security.helpers import assert_problem, fill, spec_operations

SERVER_OWNED_TIMES = {"created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}
FORBIDDEN_KEYS = {"password", "password_hash", "key_hash", "secret", "signing_key"}


@dataclass(frozen=True)
class Write:
    actor: str  # a role of `actors`
    method: str
    path: str
    body: dict[str, Any]
    injected: dict[str, Any]  # server-owned fields, each sent on its own
    if_match: str | None = None  # the path to read the current ETag from


def _writes(ids: dict[str, str]) -> list[Write]:
    partner = fill("/v1/partners/{partner_id}", ids)
    evidence = fill("/v1/evidence/{evidence_id}", ids)
    review = fill("/v1/reviews/{review_id}", ids)
    designation = {"approved_at": "2020-01-01T00:00:00Z", "expires_at": "2999-01-01T00:00:00Z"}
    return [
        Write(
            "state_admin",
            "POST",
            "/v1/partners",
            partner_payload(),
            {
                "id": ids["partner_id"],
                "status": "approved",
                "version": 7,
                "created_by": ids["admin_id"],
                "evidence_tiers": {"staffing": 1},
                "designation": designation,
                "status_reason": "x",
                **designation,
                **SERVER_OWNED_TIMES,
            },
        ),
        Write(
            "partner",
            "PATCH",
            partner,
            {"description": "Ours."},
            {
                "status": "approved",
                "designation": designation,
                "evidence_tiers": {"staffing": 1},
                "version": 99,
                "id": ids["other_partner_id"],
                "notes": "Staff only, so not the partner's to set.",
                **designation,
            },
            if_match=partner,
        ),
        Write(
            "partner",
            "POST",
            f"{partner}/status",
            {"status": "withdrawn", "reason": "Closing."},
            {
                "designation": designation,
                "expires_at": "2999-01-01T00:00:00Z",
                "trigger": "decision",
            },
        ),
        Write(
            "partner",
            "POST",
            f"{partner}/evidence",
            evidence_payload(),
            {
                "status": "accepted",
                "final_tier": 1,
                "computed_tier": 1,
                "classification": {"tier": 1, "domains": [], "reasons": []},
                "partner_id": ids["other_partner_id"],
                "source": "wwc",
                "external_id": "1:1:x",
                "submitted_by": ids["admin_id"],
                "decisions": [],
                "document": {"sha256": "0" * 64, "size": 1, "uploaded_at": "2020-01-01T00:00:00Z"},
            },
        ),
        Write(
            "partner",
            "PATCH",
            evidence,
            {"title": "Corrected"},
            {"status": "accepted", "final_tier": 1, "partner_id": ids["other_partner_id"]},
            if_match=evidence,
        ),
        Write(
            "state_admin",
            "POST",
            "/v1/users",
            {"email": f"{unique('m')}@example.org", "role": "state_reviewer"},
            {
                "is_active": False,
                "id": ids["admin_id"],
                "password_hash": "$argon2id$x",
                "version": 3,
            },
        ),
        Write(
            "partner",
            "POST",
            "/v1/api-keys",
            {"name": "mine"},
            {"role": "state_admin", "prefix": "rk_x", "key": "rk_chosen", "revoked_at": None},
        ),
        Write(
            "state_admin", "POST", "/v1/districts", district_payload(), {"id": ids["district_id"]}
        ),
        Write(
            "district",
            "POST",
            fill("/v1/districts/{district_id}/needs", ids),
            needs_payload(),
            {"district_id": ids["other_district_id"], "id": ids["needs_id"], "version": 2},
        ),
        Write(
            "district",
            "PATCH",
            fill("/v1/needs/{needs_id}", ids),
            {"title": "Ours"},
            {"district_id": ids["other_district_id"]},
            if_match=fill("/v1/needs/{needs_id}", ids),
        ),
        Write(
            "district",
            "POST",
            "/v1/engagements",
            engagement_payload(ids["designated_id"], ids["district_id"], status="planned"),
            {"id": ids["engagement_id"], "version": 5, **SERVER_OWNED_TIMES},
        ),
        Write(
            "district",
            "PATCH",
            fill("/v1/engagements/{engagement_id}", ids),
            {"need_domains": ["staffing"]},
            {"partner_id": ids["other_partner_id"], "district_id": ids["other_district_id"]},
            if_match=fill("/v1/engagements/{engagement_id}", ids),
        ),
        Write(
            "state_admin",
            "POST",
            "/v1/rubrics",
            rubric_payload(),
            {"id": ids["rubric_id"], "version": 9, "created_at": "2020-01-01T00:00:00Z"},
        ),
        Write(
            "state_reviewer",
            "PUT",
            f"{review}/scores",
            scores_payload(),
            {"reviewer_id": ids["admin_id"], "review_id": ids["review_id"], "version": 1},
            if_match=f"{review}/scores",
        ),
        Write(
            "state_admin",
            "POST",
            f"{review}/decision",
            {"decision": "defer", "rationale": "Later."},
            {"decided_by": ids["reviewer_id"], "decided_at": "2020-01-01T00:00:00Z"},
        ),
        Write(
            "state_admin",
            "POST",
            f"{evidence}/decision",
            {"decision": "accept"},
            {"decided_by": ids["reviewer_id"], "computed_tier": 1, "evidence_version": 1},
            if_match=evidence,
        ),
        Write(
            "state_admin",
            "POST",
            f"{partner}/reviews",
            {},
            {
                "partner_id": ids["other_partner_id"],
                "state": "decided",
                "opened_by": ids["reviewer_id"],
            },
        ),
        Write(
            "district",
            "POST",
            "/v1/matches",
            {"needs_id": ids["needs_id"]},
            {"results": [], "id": ids["needs_id"], "created_at": "2020-01-01T00:00:00Z"},
        ),
    ]


@pytest.fixture
async def own(app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> dict[str, str]:
    """Objects of the actors' own, for writes that would otherwise succeed."""
    partner_id = actors.partner_record["id"]
    evidence = await submit_evidence(client, actors.partner, partner_id)
    designated = await create_partner(client, actors.admin)
    await designate(app, designated["id"])
    reviewed = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, reviewed["id"])
    needs = await create_needs(client, actors.district, actors.district_record["id"])
    engagement = await client.post(
        "/v1/engagements",
        json=engagement_payload(designated["id"], actors.district_record["id"], status="planned"),
        headers=actors.district.headers,
    )
    rubrics = await client.get("/v1/rubrics", headers=actors.admin.headers)
    other = await create_partner(client, actors.admin)
    return {
        "partner_id": partner_id,
        "other_partner_id": other["id"],
        "designated_id": designated["id"],
        "evidence_id": evidence["id"],
        "review_id": review_id,
        "reviewed_id": reviewed["id"],
        "needs_id": needs["id"],
        "engagement_id": engagement.json()["id"],
        "district_id": actors.district_record["id"],
        "other_district_id": str(actors.admin.user_id),  # any UUID that is not theirs
        "rubric_id": rubrics.json()["items"][0]["id"],
        "admin_id": str(actors.admin.user_id),
        "reviewer_id": str(actors.reviewer.user_id),
    }


async def _etag(client: httpx.AsyncClient, actor: Actor, path: str) -> str:
    response = await client.get(path, headers=actor.headers)
    assert response.status_code == 200, (path, response.text)
    return response.headers["ETag"]


async def test_no_write_route_lets_a_client_set_a_server_owned_field(
    client: httpx.AsyncClient, actors: Actors, own: dict[str, str]
) -> None:
    before = {
        path: (await client.get(path, headers=actors.admin.headers)).json()
        for path in (
            f"/v1/partners/{own['partner_id']}",
            f"/v1/evidence/{own['evidence_id']}",
            f"/v1/reviews/{own['review_id']}",
            f"/v1/needs/{own['needs_id']}",
            f"/v1/engagements/{own['engagement_id']}",
        )
    }
    accepted: list[str] = []
    for write in _writes(own):
        actor = actors.by_role()[write.actor]
        for field, value in write.injected.items():
            headers = dict(actor.headers)
            if write.if_match:
                headers["If-Match"] = await _etag(client, actor, write.if_match)
            response = await client.request(
                write.method, write.path, json=write.body | {field: value}, headers=headers
            )
            if response.status_code != 422:
                accepted.append(f"{write.method} {write.path} {field}: {response.status_code}")
                continue
            problem = assert_problem(response, 422)
            assert {"loc": ["body", field], "type": "extra_forbidden"} in [
                {"loc": issue["loc"], "type": issue["type"]} for issue in problem["errors"]
            ], (write.path, field, problem)
    assert accepted == [], "server-owned fields must be refused"
    for path, body in before.items():
        assert (await client.get(path, headers=actors.admin.headers)).json() == body, path


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        (
            "/v1/rubrics",
            rubric_payload(scale={"min": 0, "max": 4, "weight": 100}),
            ["body", "scale", "weight"],
        ),
        (
            "/v1/rubrics",
            rubric_payload(criteria=[{"code": "c", "name": "C", "weight": 1, "version": 2}]),
            ["body", "criteria", 0, "version"],
        ),
        (
            "/v1/partners/{partner_id}/evidence",
            evidence_payload(
                findings=[evidence_payload()["findings"][0] | {"tier": 1, "reasons": []}]
            ),
            ["body", "findings", 0, "tier"],
        ),
        (
            "/v1/partners",
            partner_payload(cost_per_school_year={"min": 0, "max": 10, "currency": "EUR"}),
            ["body", "cost_per_school_year", "currency"],
        ),
        (
            "/v1/districts/{district_id}/needs",
            needs_payload(readiness={"beliefs": 3, "score": 1.0}),
            ["body", "readiness", "score"],
        ),
    ],
)
async def test_nested_objects_refuse_unknown_fields_too(
    client: httpx.AsyncClient, actors: Actors, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    url = fill(
        path,
        {"partner_id": actors.partner_record["id"]} | {"district_id": actors.district_record["id"]},
    )
    response = await client.post(url, json=body, headers=actors.admin.headers)
    problem = assert_problem(response, 422)
    assert loc in [issue["loc"] for issue in problem["errors"]], problem


# Excessive data exposure

CANARIES = {
    "notes": unique("CANARY-staff-notes"),
    "score_notes": unique("CANARY-score-notes"),
    "coi": unique("CANARY-conflict-statement"),
    "review_rationale": unique("CANARY-review-rationale"),
    "return_rationale": unique("CANARY-return-rationale"),
    "accept_rationale": unique("CANARY-accept-rationale"),
}


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


async def _approve_through_a_review(
    client: httpx.AsyncClient, actors: Actors, partner_id: str
) -> str:
    await move_partner(client, actors.admin, partner_id, "submitted", "under_review")
    opened = await client.post(
        f"/v1/partners/{partner_id}/reviews", json={}, headers=actors.admin.headers
    )
    review_id: str = opened.json()["id"]
    for actor in (actors.admin, actors.reviewer):
        sheet = scores_payload()
        sheet["conflict_of_interest"]["statement"] = CANARIES["coi"]
        for score in sheet["scores"]:
            score["notes"] = CANARIES["score_notes"]
        scored = await client.put(
            f"/v1/reviews/{review_id}/scores", json=sheet, headers=actor.headers
        )
        assert scored.status_code == 201, scored.text
    decided = await client.post(
        f"/v1/reviews/{review_id}/decision",
        json={"decision": "approve", "rationale": CANARIES["review_rationale"]},
        headers=actors.admin.headers,
    )
    assert decided.status_code == 201, decided.text
    return review_id


@pytest.fixture
async def planted(client: httpx.AsyncClient, actors: Actors) -> dict[str, str]:
    """The actors' partner approved through the real flows, with state-only text everywhere."""
    admin = actors.admin.headers
    partner_id = actors.partner_record["id"]
    noted = await client.patch(
        f"/v1/partners/{partner_id}",
        json={"notes": CANARIES["notes"]},
        headers=admin | {"If-Match": '"1"'},
    )
    assert noted.status_code == 200, noted.text
    returned = await submit_evidence(client, actors.partner, partner_id)
    accepted = await submit_evidence(client, actors.partner, partner_id)
    for record, decision in ((returned, "return"), (accepted, "accept")):
        response = await client.post(
            f"/v1/evidence/{record['id']}/decision",
            json={"decision": decision, "rationale": CANARIES[f"{decision}_rationale"]},
            headers=admin | {"If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text
    review_id = await _approve_through_a_review(client, actors, partner_id)
    needs = await create_needs(client, actors.district, actors.district_record["id"])
    match = await client.post(
        "/v1/matches", json={"needs_id": needs["id"]}, headers=actors.district.headers
    )
    engagement = await client.post(
        "/v1/engagements",
        json=engagement_payload(partner_id, actors.district_record["id"]),
        headers=actors.district.headers,
    )
    assert match.status_code == engagement.status_code == 201, (match.text, engagement.text)
    check_in = await client.post(
        f"/v1/engagements/{engagement.json()['id']}/check-ins",
        json=check_in_payload(),
        headers=actors.district.headers,
    )
    assert check_in.status_code == 201, check_in.text
    rubrics = await client.get("/v1/rubrics", headers=admin)
    return {
        "partner_id": partner_id,
        "district_id": actors.district_record["id"],
        "returned_id": returned["id"],
        "accepted_id": accepted["id"],
        "review_id": review_id,
        "needs_id": needs["id"],
        "match_id": match.json()["id"],
        "engagement_id": engagement.json()["id"],
        "check_in_id": check_in.json()["id"],
        "rubric_id": rubrics.json()["items"][0]["id"],
        "code": "staffing",
    }


async def _read_everything(
    client: httpx.AsyncClient, headers: dict[str, str], ids: dict[str, str], user_id: str
) -> dict[str, httpx.Response]:
    """Every GET of the spec, with this caller's ids (both evidence records)."""
    answers: dict[str, httpx.Response] = {}
    for method, template in spec_operations():
        if method != "GET":
            continue
        for evidence_id in (ids["returned_id"], ids["accepted_id"]):
            url = fill(template, ids | {"evidence_id": evidence_id, "user_id": user_id})
            answers[url] = await client.get(url, headers=headers)
    answers["/v1/directory (csv)"] = await client.get(
        "/v1/directory", params={"limit": 200}, headers=headers | {"Accept": "text/csv"}
    )
    return answers


async def test_state_only_text_never_reaches_partners_districts_or_the_public(
    client: httpx.AsyncClient, actors: Actors, planted: dict[str, str]
) -> None:
    staff_view = await _read_everything(
        client, actors.admin.headers, planted, str(actors.admin.user_id)
    )
    staff_text = "".join(response.text for response in staff_view.values())
    missing = [name for name, canary in CANARIES.items() if canary not in staff_text]
    assert missing == [], "the canaries were not planted; the test would prove nothing"

    callers = {
        "partner": (actors.partner.headers, str(actors.partner.user_id)),
        "district": (actors.district.headers, str(actors.district.user_id)),
        "anonymous": ({}, str(actors.admin.user_id)),
    }
    leaks = []
    for caller, (headers, user_id) in callers.items():
        answers = await _read_everything(client, headers, planted, user_id)
        assert answers["/v1/directory (csv)"].status_code == 200
        for url, response in answers.items():
            assert response.status_code < 500, (caller, url, response.text)
            leaks += [
                f"{caller} {url}: {name}"
                for name, canary in CANARIES.items()
                if canary in response.text
            ]
    assert leaks == []


async def test_no_response_carries_a_password_a_hash_or_a_stored_key(
    client: httpx.AsyncClient, actors: Actors, planted: dict[str, str]
) -> None:
    made = await client.post("/v1/api-keys", json={"name": "listed"}, headers=actors.admin.headers)
    secret = made.json()["key"]
    for actor in (actors.admin, actors.partner):
        answers = await _read_everything(client, actor.headers, planted, str(actor.user_id))
        answers["/v1/users?limit=200"] = await client.get(
            "/v1/users", params={"limit": 200}, headers=actor.headers
        )
        for url, response in answers.items():
            assert secret not in response.text, url
            if response.headers["content-type"].startswith("application/json"):
                keys = set(_keys(response.json()))
                assert keys & FORBIDDEN_KEYS == set(), (url, keys & FORBIDDEN_KEYS)
                assert not (url.startswith("/v1/api-keys") and "key" in keys), url
    users = await client.get("/v1/users", params={"limit": 200}, headers=actors.admin.headers)
    assert users.status_code == 200
    assert all(
        set(item)
        == {
            "id",
            "email",
            "role",
            "district_id",
            "partner_id",
            "is_active",
            "version",
            "created_at",
            "updated_at",
        }
        for item in users.json()["items"]
    )
    audit = await client.get(
        "/v1/audit-events", params={"entity_id": made.json()["id"]}, headers=actors.admin.headers
    )
    assert audit.json()["items"], "the key's creation is in the trail"
    assert secret not in json.dumps(audit.json())
