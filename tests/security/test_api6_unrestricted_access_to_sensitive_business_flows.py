"""API6:2023 Unrestricted Access to Sensitive Business Flows.

The flow that matters most here is designation: a partner on the state's list is money and
reputation. A partner must not reach it, or a stronger evidence tier, by any route of its own;
a decision is made once, however often it is retried; accepted evidence cannot be edited into
something stronger afterwards; and the public directory shows designated partners only,
whatever the query asks for.
"""

import httpx
from fastapi import FastAPI

from tests.factories import (
    Actors,
    create_partner,
    designate,
    evidence_payload,
    force_partner_state,
    move_partner,
    review_in_progress,
    scores_payload,
    submit_evidence,
    unique,
)
from tests.security.helpers import PDF, assert_problem


async def _state(client: httpx.AsyncClient, actors: Actors, partner_id: str) -> dict[str, object]:
    partner = (await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)).json()
    designations = await client.get(
        f"/v1/partners/{partner_id}/designations", headers=actors.admin.headers
    )
    return {
        "status": partner["status"],
        "designation": partner["designation"],
        "evidence_tiers": partner["evidence_tiers"],
        "designations": designations.json()["items"],
    }


async def test_a_partner_cannot_reach_designation_by_any_route_of_its_own(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    own = actors.partner.headers
    evidence = await submit_evidence(client, actors.partner, partner_id)
    evidence_url = f"/v1/evidence/{evidence['id']}"

    # Its own way in: draft -> submitted; then nothing past what state staff decide.
    await move_partner(client, actors.partner, partner_id, "submitted")
    for target in ("under_review", "approved"):
        response = await client.post(
            f"/v1/partners/{partner_id}/status", json={"status": target}, headers=own
        )
        assert response.status_code in {403, 409}, (target, response.text)
        assert_problem(response, response.status_code)
    await move_partner(client, actors.admin, partner_id, "under_review")
    opened = await client.post(f"/v1/partners/{partner_id}/reviews", json={}, headers=own)
    assert_problem(opened, 403)
    review = await client.post(
        f"/v1/partners/{partner_id}/reviews", json={}, headers=actors.admin.headers
    )
    review_id = review.json()["id"]
    attempts = [
        ("PUT", f"/v1/reviews/{review_id}/scores", scores_payload(score=4), 403),
        (
            "POST",
            f"/v1/reviews/{review_id}/decision",
            {"decision": "approve", "rationale": "We are great."},
            403,
        ),
        ("POST", f"{evidence_url}/decision", {"decision": "accept", "tier": 1}, 403),
        ("PATCH", evidence_url, {"final_tier": 1}, 422),
        ("PATCH", evidence_url, {"status": "accepted"}, 422),
        ("POST", f"/v1/partners/{partner_id}/status", {"status": "approved"}, None),
    ]
    for method, url, body, expected in attempts:
        response = await client.request(method, url, json=body, headers=own | {"If-Match": '"1"'})
        assert 400 <= response.status_code < 500, (url, response.text)
        assert expected is None or response.status_code == expected, (url, response.text)
    state = await _state(client, actors, partner_id)
    assert state == {
        "status": "under_review",
        "designation": None,
        "evidence_tiers": {},
        "designations": [],
    }
    directory = await client.get("/v1/directory", params={"q": actors.partner_record["name"]})
    assert directory.json()["items"] == []


async def test_a_suspended_partner_cannot_reinstate_itself(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    await designate(app, partner_id)
    suspended = await client.post(
        f"/v1/partners/{partner_id}/status",
        json={"status": "suspended", "reason": "No gains in two years."},
        headers=actors.admin.headers,
    )
    assert suspended.status_code == 200, suspended.text
    reinstate = await client.post(
        f"/v1/partners/{partner_id}/status",
        json={"status": "approved", "reason": "We improved."},
        headers=actors.partner.headers,
    )
    assert_problem(reinstate, 403)
    assert (await _state(client, actors, partner_id))["status"] == "suspended"


async def test_a_decision_is_made_once_however_often_it_is_retried(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    url = f"/v1/reviews/{review_id}/decision"
    approve = {"decision": "approve", "rationale": "Meets the rubric.", "term_months": 24}
    headers = actors.admin.headers | {"Idempotency-Key": unique("decide")}

    first = await client.post(url, json=approve, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(url, json=approve, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other_body = await client.post(
        url, json={"decision": "deny", "rationale": "Changed my mind."}, headers=headers
    )
    assert_problem(other_body, 409)
    for actor in (actors.admin, actors.reviewer):
        fresh = await client.post(
            url, json={"decision": "deny", "rationale": "Overrule."}, headers=actor.headers
        )
        assert_problem(fresh, 409)

    state = await _state(client, actors, partner["id"])
    assert state["status"] == "approved"
    assert isinstance(state["designations"], list)
    assert len(state["designations"]) == 1
    events = await client.get(
        "/v1/audit-events",
        params={"entity_id": review_id, "action": "review.decided"},
        headers=actors.admin.headers,
    )
    assert len(events.json()["items"]) == 1


async def test_accepted_evidence_cannot_be_edited_into_stronger_evidence(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    weak = evidence_payload(
        design="qed", standards_rating="meets_with_reservations", sample_size=80
    )
    submitted = await client.post(
        f"/v1/partners/{partner_id}/evidence", json=weak, headers=actors.partner.headers
    )
    record = submitted.json()
    assert record["computed_tier"] == 3, record["classification"]
    accepted = await client.post(
        f"/v1/evidence/{record['id']}/decision",
        json={"decision": "accept"},
        headers=actors.admin.headers | {"If-Match": '"1"'},
    )
    assert accepted.status_code == 200, accepted.text
    etag = accepted.headers["ETag"]
    tiers = (await _state(client, actors, partner_id))["evidence_tiers"]
    assert tiers == {"staffing": 3}

    stronger = {
        "design": "rct",
        "standards_rating": "meets_without_reservations",
        "sample_size": 5000,
    }
    edit = await client.patch(
        f"/v1/evidence/{record['id']}",
        json=stronger,
        headers=actors.partner.headers | {"If-Match": etag},
    )
    assert_problem(edit, 409)
    swap = await client.put(
        f"/v1/evidence/{record['id']}/document",
        content=PDF,
        headers=actors.partner.headers | {"If-Match": etag, "Content-Type": "application/pdf"},
    )
    assert_problem(swap, 409)
    again = await client.post(
        f"/v1/evidence/{record['id']}/decision",
        json={"decision": "accept", "tier": 1, "rationale": "Upgrade."},
        headers=actors.admin.headers | {"If-Match": etag},
    )
    assert_problem(again, 409)
    assert (await _state(client, actors, partner_id))["evidence_tiers"] == {"staffing": 3}


async def test_the_directory_publishes_designated_partners_only_whatever_it_is_asked(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    region = unique("secret").lower()
    hidden = {}
    for status in ("draft", "submitted", "under_review", "denied", "suspended", "withdrawn"):
        partner = await create_partner(client, actors.admin, regions=[region])
        if status != "draft":
            await force_partner_state(app, partner["id"], status=status)
        hidden[status] = partner["name"]
    queries = [
        {"region": region},
        {"region": region, "status": "draft"},
        {"region": region, "as_of": "2000-01-01"},
        {"region": region, "as_of": "2999-12-31"},
        {"region": region, "include": "all", "all": "true", "draft": "true"},
    ]
    for params in queries:
        listed = await client.get("/v1/directory", params=params)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"] == [], params
        csv = await client.get("/v1/directory", params=params, headers={"Accept": "text/csv"})
        assert not any(name in csv.text for name in hidden.values()), params
    # The filter is not simply broken: a designated partner in that region does show.
    shown = await create_partner(client, actors.admin, regions=[region])
    await designate(app, shown["id"])
    listed = await client.get("/v1/directory", params={"region": region})
    assert [item["name"] for item in listed.json()["items"]] == [shown["name"]]
