"""Lifecycle edges through the API: who may move a partner where, and what 409 says."""

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.core.base import utcnow
from app.partners.lifecycle import TRANSITIONS, PartnerStatus, Trigger
from tests.factories import Actors, evidence_payload, force_partner_state, submit_evidence
from tests.security.helpers import PDF


async def _move(
    client: httpx.AsyncClient, actors: Actors, who: str, status: str, reason: str = ""
) -> httpx.Response:
    actor = actors.by_role()[who]
    body = {"status": status} | ({"reason": reason} if reason else {})
    return await client.post(
        f"/v1/partners/{actors.partner_record['id']}/status", json=body, headers=actor.headers
    )


async def test_application_path_partner_submits_staff_reviews(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    submitted = await _move(client, actors, "partner", "submitted")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    assert submitted.headers["ETag"] == '"2"'
    assert (await _move(client, actors, "partner", "under_review")).status_code == 403
    assert (await _move(client, actors, "district", "under_review")).status_code == 403
    assert (await _move(client, actors, "state_reviewer", "under_review")).json()[
        "status"
    ] == "under_review"


@pytest.mark.parametrize("target", ["approved", "denied"])
async def test_approval_and_denial_only_come_from_decisions(
    client: httpx.AsyncClient, actors: Actors, target: str
) -> None:
    await _move(client, actors, "partner", "submitted")
    await _move(client, actors, "state_admin", "under_review")
    refused = await _move(client, actors, "state_admin", target, reason="because")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["allowed"] == ["withdrawn"]
    assert "decision" in problem["detail"]


async def test_illegal_moves_name_the_allowed_ones(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    response = await _move(client, actors, "state_admin", "suspended", reason="x")
    assert response.status_code == 409
    assert response.json()["allowed"] == ["submitted", "withdrawn"]


async def test_withdrawal_needs_a_reason_and_is_final(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    assert (await _move(client, actors, "partner", "withdrawn")).status_code == 422
    withdrawn = await _move(client, actors, "partner", "withdrawn", reason="We are closing")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status_reason"] == "We are closing"
    again = await _move(client, actors, "state_admin", "submitted")
    assert again.status_code == 409
    assert again.json()["allowed"] == []

    # Its own users change nothing more; state staff may still correct the record.
    url = f"/v1/partners/{actors.partner_record['id']}"
    version = withdrawn.headers["ETag"]
    edit = {"description": "Still here"}
    by_partner = await client.patch(
        url, json=edit, headers=actors.partner.headers | {"If-Match": version}
    )
    assert by_partner.status_code == 409
    evidence = await client.post(
        f"{url}/evidence", json=evidence_payload(), headers=actors.partner.headers
    )
    assert evidence.status_code == 409
    by_staff = await client.patch(
        url, json={"notes": "Closed in June."}, headers=actors.admin.headers | {"If-Match": version}
    )
    assert by_staff.status_code == 200, by_staff.text


async def test_a_withdrawn_partner_resubmits_no_evidence(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """A record returned for correction stays as it is once the partner withdraws: its users
    can neither resubmit it nor replace its study, which would put it back in the queue."""
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    url = f"/v1/evidence/{evidence['id']}"
    returned = await client.post(
        f"{url}/decision",
        json={"decision": "return", "rationale": "The sample is missing."},
        headers=actors.admin.headers | {"If-Match": '"1"'},
    )
    assert returned.status_code == 200, returned.text
    assert (await _move(client, actors, "partner", "withdrawn", reason="Closing")).is_success
    version = {"If-Match": returned.headers["ETag"]}

    resubmitted = await client.patch(
        url, json={"title": "Corrected"}, headers=actors.partner.headers | version
    )
    assert resubmitted.status_code == 409, resubmitted.text
    document = await client.put(
        f"{url}/document",
        content=PDF,
        headers=actors.partner.headers | version | {"Content-Type": "application/pdf"},
    )
    assert document.status_code == 409, document.text
    unchanged = await client.get(url, headers=actors.admin.headers)
    assert unchanged.json()["status"] == "returned"
    assert unchanged.json()["title"] == evidence["title"]

    by_staff = await client.patch(
        url, json={"title": "Corrected by the state"}, headers=actors.admin.headers | version
    )
    assert by_staff.status_code == 200, by_staff.text


async def test_suspension_and_reinstatement_keep_the_term(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    now = utcnow()
    expires = now + timedelta(days=200)
    await force_partner_state(
        app, actors.partner_record["id"], status="approved", approved_at=now, expires_at=expires
    )
    assert (await _move(client, actors, "partner", "suspended", reason="x")).status_code == 403
    suspended = await _move(
        client, actors, "state_reviewer", "suspended", reason="No progress reviews"
    )
    assert suspended.status_code == 200
    assert suspended.json()["status"] == "suspended"
    reinstated = await _move(client, actors, "state_admin", "approved")
    assert reinstated.status_code == 200
    assert reinstated.json()["status"] == "approved"
    assert (
        reinstated.json()["designation"]["expires_at"]
        == suspended.json()["designation"]["expires_at"]
    )


async def test_a_lapsed_designation_reads_expired_and_moves_as_expired(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    now = utcnow()
    await force_partner_state(
        app,
        actors.partner_record["id"],
        status="approved",
        approved_at=now - timedelta(days=800),
        expires_at=now - timedelta(minutes=1),
    )
    read = await client.get(
        f"/v1/partners/{actors.partner_record['id']}", headers=actors.admin.headers
    )
    assert read.json()["status"] == "expired"
    suspend = await _move(client, actors, "state_admin", "suspended", reason="x")
    assert suspend.status_code == 409
    assert suspend.json()["allowed"] == [
        s.value
        for s in PartnerStatus
        if Trigger.STATE_STAFF in TRANSITIONS[PartnerStatus.EXPIRED].get(s, ())
    ]


async def test_unknown_statuses_are_422(client: httpx.AsyncClient, actors: Actors) -> None:
    assert (await _move(client, actors, "state_admin", "famous")).status_code == 422


async def test_only_the_partner_and_staff_read_why_it_was_suspended(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    now = utcnow()
    await force_partner_state(
        app,
        actors.partner_record["id"],
        status="approved",
        approved_at=now,
        expires_at=now + timedelta(days=200),
    )
    await _move(client, actors, "state_admin", "suspended", reason="Safeguarding inquiry")
    url = f"/v1/partners/{actors.partner_record['id']}"
    reasons = {
        role: (await client.get(url, headers=actors.by_role()[role].headers)).json()[
            "status_reason"
        ]
        for role in ("state_admin", "partner", "district")
    }
    assert reasons == {
        "state_admin": "Safeguarding inquiry",
        "partner": "Safeguarding inquiry",
        "district": None,
    }
