"""The evidence API end to end: submission, visibility, review workflow, roll-up, audit trail."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.core.base import utcnow
from tests.factories import (
    Actor,
    Actors,
    create_district,
    create_needs,
    create_partner,
    designate,
    evidence_payload,
    make_actor,
    submit_evidence,
    unique,
)


def _url(evidence: dict[str, Any], suffix: str = "") -> str:
    return f"/v1/evidence/{evidence['id']}{suffix}"


async def _decide(
    client: httpx.AsyncClient, actor: Actor, evidence: dict[str, Any], **body: Any
) -> httpx.Response:
    # A reviewer decides the version they read, as a client would: read, then If-Match it.
    read = await client.get(_url(evidence), headers=actor.headers)
    headers = actor.headers | {"If-Match": read.headers.get("ETag", '"0"')}
    return await client.post(_url(evidence, "/decision"), json=body, headers=headers)


async def _actions(client: httpx.AsyncClient, admin: Actor, entity_id: str) -> list[str]:
    response = await client.get(
        "/v1/audit-events", params={"entity_id": entity_id}, headers=admin.headers
    )
    assert response.status_code == 200
    return [event["action"] for event in response.json()["items"]]


async def _approve(app: FastAPI, partner_id: str) -> None:
    from tests.factories import force_partner_state

    now = utcnow()
    await force_partner_state(
        app, partner_id, status="approved", approved_at=now, expires_at=now + timedelta(days=90)
    )


async def test_partner_submits_its_own_evidence_and_gets_its_classification(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    response = await client.post(
        f"/v1/partners/{partner_id}/evidence",
        json=evidence_payload(),
        headers=actors.partner.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/v1/evidence/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["status"] == "submitted"
    assert body["partner_id"] == partner_id
    assert body["classification"] == {
        "tier": 1,
        "domains": [{"need_domain": "staffing", "tier": 1}],
        "reasons": [],
    }
    assert body["computed_tier"] == 1
    assert body["final_tier"] is None
    assert body["findings"][0]["tier"] == 1
    assert body["decisions"] == []
    assert body["document"] is None

    read = await client.get(response.headers["Location"], headers=actors.partner.headers)
    assert read.status_code == 200
    assert read.json() == body


async def test_classification_names_why_a_finding_is_not_stronger(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    evidence = await submit_evidence(
        client, actors.reviewer, actors.partner_record["id"], sample_size=120, site_count=1
    )
    assert evidence["computed_tier"] == 3
    codes = [reason["code"] for reason in evidence["classification"]["reasons"]]
    assert codes == ["sample_too_small", "single_site"]
    assert evidence["findings"][0]["reasons"][0]["message"].startswith("Analytic sample of 120")


async def test_who_may_submit_for_which_partner(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, admin: Actor
) -> None:
    other = await create_partner(client, admin)
    own = f"/v1/partners/{actors.partner_record['id']}/evidence"
    foreign = f"/v1/partners/{other['id']}/evidence"
    payload = evidence_payload()
    assert (
        await client.post(foreign, json=payload, headers=actors.partner.headers)
    ).status_code == 404
    assert (
        await client.post(own, json=payload, headers=actors.district.headers)
    ).status_code == 403
    assert (
        await client.post(foreign, json=payload, headers=actors.reviewer.headers)
    ).status_code == 201


async def test_unknown_need_domain_and_bad_input_are_422(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    url = f"/v1/partners/{actors.partner_record['id']}/evidence"
    finding = evidence_payload()["findings"][0]
    cases = [
        evidence_payload(findings=[finding, finding | {"need_domain": "astrology"}]),
        evidence_payload(title="bad\x00title"),
        evidence_payload(findings=[finding] * 201),
        evidence_payload(sample_size=-1),
        evidence_payload(findings=[finding | {"p_value": 1.5}]),
        evidence_payload(surprise=True),
        evidence_payload(student_groups=["Not A Code"]),
    ]
    for payload in cases:
        response = await client.post(url, json=payload, headers=actors.partner.headers)
        assert response.status_code == 422, payload
        assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.post(url, json=cases[0], headers=actors.partner.headers)
    assert unknown.json()["errors"][0]["loc"] == ["body", "findings", 1, "need_domain"]
    listed = await client.get(url, headers=actors.admin.headers)
    assert listed.json()["items"] == []


async def test_idempotency_key_replays_the_first_submission(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    url = f"/v1/partners/{actors.partner_record['id']}/evidence"
    payload = evidence_payload()
    headers = actors.partner.headers | {"Idempotency-Key": f"ev-{uuid.uuid4()}"}
    first = await client.post(url, json=payload, headers=headers)
    again = await client.post(url, json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post(url, json=payload | {"title": "Another"}, headers=headers)
    assert other.status_code == 409
    listed = await client.get(url, headers=actors.partner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [first.json()["id"]]


async def test_visibility_by_role(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, admin: Actor
) -> None:
    partner_id = actors.partner_record["id"]
    evidence = await submit_evidence(client, actors.partner, partner_id)
    pending = await submit_evidence(client, actors.partner, partner_id)
    assert (await _decide(client, actors.reviewer, evidence, decision="accept")).status_code == 200

    stranger_partner = await create_partner(client, admin)
    stranger = await make_actor(app, "partner", partner_id=uuid.UUID(stranger_partner["id"]))
    assert (await client.get(_url(evidence), headers=stranger.headers)).status_code == 404
    listing = f"/v1/partners/{partner_id}/evidence"
    assert (await client.get(listing, headers=stranger.headers)).status_code == 404

    # A district sees nothing of a partner the state has not designated...
    assert (await client.get(_url(evidence), headers=actors.district.headers)).status_code == 404
    await _approve(app, partner_id)
    # ...and then only its accepted evidence, without the reviewers' notes.
    seen = await client.get(_url(evidence), headers=actors.district.headers)
    assert seen.status_code == 200
    assert seen.json()["decisions"][0]["rationale"] is None
    assert (await client.get(_url(pending), headers=actors.district.headers)).status_code == 404
    listed = await client.get(listing, headers=actors.district.headers)
    assert [item["id"] for item in listed.json()["items"]] == [evidence["id"]]
    assert len((await client.get(listing, headers=actors.partner.headers)).json()["items"]) == 2


async def test_return_correct_resubmit_accept_keeps_history(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    evidence = await submit_evidence(
        client, actors.partner, actors.partner_record["id"], sample_size=100
    )
    assert evidence["computed_tier"] == 3
    forbidden = await _decide(client, actors.partner, evidence, decision="accept")
    assert forbidden.status_code == 403
    no_reason = await _decide(client, actors.reviewer, evidence, decision="return")
    assert no_reason.status_code == 422
    returned = await _decide(
        client,
        actors.reviewer,
        evidence,
        decision="return",
        rationale="Sample looks mis-reported; internal note.",
        feedback="Please report the analytic sample of the full study.",
    )
    assert returned.status_code == 200
    assert returned.json()["status"] == "returned"
    assert returned.json()["decisions"][0]["rationale"].startswith("Sample looks")
    version = returned.json()["version"]

    as_partner = (await client.get(_url(evidence), headers=actors.partner.headers)).json()
    decision = as_partner["decisions"][0]
    assert decision["rationale"] is None
    assert decision["decided_by"] is None
    assert decision["feedback"] == "Please report the analytic sample of the full study."

    fix = {"sample_size": 900}
    url = _url(evidence)
    assert (await client.patch(url, json=fix, headers=actors.partner.headers)).status_code == 428
    stale = actors.partner.headers | {"If-Match": '"1"'}
    assert (await client.patch(url, json=fix, headers=stale)).status_code == 412
    current = actors.partner.headers | {"If-Match": f'"{version}"'}
    resubmitted = await client.patch(url, json=fix, headers=current)
    assert resubmitted.status_code == 200, resubmitted.text
    body = resubmitted.json()
    assert body["status"] == "submitted"
    assert body["version"] == version + 1
    assert body["computed_tier"] == 1
    assert body["decisions"][0]["evidence_version"] == 1

    accepted = await _decide(client, actors.reviewer, evidence, decision="accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["final_tier"] == 1
    assert [d["decision"] for d in accepted.json()["decisions"]] == ["return", "accept"]

    headers = actors.partner.headers | {"If-Match": f'"{accepted.json()["version"]}"'}
    assert (await client.patch(url, json=fix, headers=headers)).status_code == 409
    again = await _decide(client, actors.reviewer, evidence, decision="reject", rationale="x")
    assert again.status_code == 409


async def test_replacing_findings_reclassifies(client: httpx.AsyncClient, actors: Actors) -> None:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    finding = evidence_payload()["findings"][0]
    findings = [finding | {"need_domain": "literacy", "significant": False}, finding]
    response = await client.patch(
        _url(evidence),
        json={"findings": findings},
        headers=actors.partner.headers | {"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [f["need_domain"] for f in body["findings"]] == ["literacy", "staffing"]
    assert body["classification"]["domains"] == [
        {"need_domain": "literacy", "tier": 4},
        {"need_domain": "staffing", "tier": 1},
    ]
    assert body["version"] == 2


async def test_a_partner_cannot_drop_or_flip_its_unfavorable_findings(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    favorable = evidence_payload()["findings"][0]
    harm = favorable | {"outcome": "Vacancies", "direction": "unfavorable", "effect_size": -0.2}
    evidence = await submit_evidence(
        client, actors.partner, actors.partner_record["id"], findings=[favorable, harm]
    )
    assert evidence["classification"]["domains"] == [{"need_domain": "staffing", "tier": 4}]

    async def replace(actor: Actor, findings: list[dict[str, Any]]) -> httpx.Response:
        version = (await client.get(_url(evidence), headers=actor.headers)).headers["ETag"]
        return await client.patch(
            _url(evidence),
            json={"findings": findings},
            headers=actor.headers | {"If-Match": version},
        )

    for cherry_picked in ([favorable], [favorable, harm | {"direction": "favorable"}]):
        refused = await replace(actors.partner, cherry_picked)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["type"] == "findings_dropped"
        assert "staffing (1)" in refused.json()["detail"]
    corrected = await replace(actors.partner, [favorable, harm | {"outcome": "Vacancy rate"}])
    assert corrected.status_code == 200, corrected.text
    by_staff = await replace(actors.reviewer, [favorable])
    assert by_staff.status_code == 200, by_staff.text
    assert by_staff.json()["computed_tier"] == 1


async def test_a_study_that_cannot_show_cause_cannot_meet_wwc_standards(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    contradiction = evidence_payload(
        design="correlational", standards_rating="meets_with_reservations"
    )
    for url in (f"/v1/partners/{partner_id}/evidence", "/v1/evidence/classify"):
        refused = await client.post(url, json=contradiction, headers=actors.partner.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["type"] == "rating_does_not_fit_design"
    evidence = await submit_evidence(client, actors.partner, partner_id)
    relabelled = await client.patch(
        _url(evidence),
        json={"design": "logic_model"},
        headers=actors.partner.headers | {"If-Match": '"1"'},
    )
    assert relabelled.status_code == 422
    assert relabelled.json()["errors"][0]["loc"] == ["body", "standards_rating"]


async def test_final_tier_differs_only_with_a_rationale_and_drives_the_roll_up(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    evidence = await submit_evidence(client, actors.partner, partner_id)
    assert (
        await _decide(client, actors.reviewer, evidence, decision="accept", tier=3)
    ).status_code == 422
    assert (
        await _decide(client, actors.reviewer, evidence, decision="reject", tier=3, rationale="x")
    ).status_code == 422
    accepted = await _decide(
        client,
        actors.reviewer,
        evidence,
        decision="accept",
        tier=3,
        rationale="Attrition is undocumented; we rate it promising.",
    )
    assert accepted.status_code == 200
    assert (accepted.json()["computed_tier"], accepted.json()["final_tier"]) == (1, 3)
    partner = await client.get(f"/v1/partners/{partner_id}", headers=actors.partner.headers)
    assert partner.json()["evidence_tiers"] == {"staffing": 3}


async def test_a_raised_tier_does_not_outlast_harm_shown_by_another_record(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    """A rationale-only record raised to tier 1 by its reviewer, then a study meeting
    standards with significant harm in the same domain: tier 4, for the partner and for a
    section 1003 plan, which then finds nothing in tiers 1 to 3 to count."""
    region = unique("harm").lower()
    partner = await create_partner(
        client, actors.admin, regions=[region], need_domains=["staffing"]
    )
    await designate(app, partner["id"])
    favorable = evidence_payload()["findings"][0]
    rationale_only = await submit_evidence(
        client, actors.admin, partner["id"], findings=[favorable | {"significant": False}]
    )
    assert rationale_only["computed_tier"] == 4
    raised = await _decide(
        client, actors.reviewer, rationale_only, decision="accept", tier=1, rationale="Judged."
    )
    assert raised.status_code == 200, raised.text
    harm = await submit_evidence(
        client,
        actors.admin,
        partner["id"],
        findings=[favorable | {"direction": "unfavorable", "effect_size": -0.3}],
    )
    assert (await _decide(client, actors.reviewer, harm, decision="accept")).status_code == 200

    read = await client.get(f"/v1/partners/{partner['id']}", headers=actors.admin.headers)
    assert read.json()["evidence_tiers"] == {"staffing": 4}
    district = await create_district(client, actors.admin, region=region)
    user = await make_actor(app, "district", district_id=uuid.UUID(district["id"]))
    plan = await create_needs(
        client,
        user,
        district["id"],
        funding_source="title_i_1003",
        needs=[{"need_domain": "staffing", "priority": 3}],
    )
    match = await client.post("/v1/matches", json={"needs_id": plan["id"]}, headers=user.headers)
    assert match.status_code == 201, match.text
    assert partner["id"] not in {result["partner_id"] for result in match.json()["results"]}


async def test_a_final_tier_is_refused_for_a_record_that_earns_no_tier(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    finding = evidence_payload()["findings"][0] | {"significant": False, "p_value": 0.4}
    evidence = await submit_evidence(
        client, actors.partner, partner_id, findings=[finding], has_logic_model=False
    )
    assert evidence["computed_tier"] is None

    tiered = await _decide(
        client, actors.reviewer, evidence, decision="accept", tier=4, rationale="Promising."
    )
    assert tiered.status_code == 422
    assert tiered.json()["errors"][0]["loc"] == ["body", "tier"]
    accepted = await _decide(client, actors.reviewer, evidence, decision="accept")
    assert (accepted.status_code, accepted.json()["final_tier"]) == (200, None)


async def test_only_accepted_evidence_counts_toward_tiers_and_the_filter(
    client: httpx.AsyncClient, actors: Actors, admin: Actor
) -> None:
    partner_id = actors.partner_record["id"]
    evidence = await submit_evidence(client, actors.partner, partner_id)
    rejected = await submit_evidence(
        client,
        actors.partner,
        partner_id,
        findings=[evidence_payload()["findings"][0] | {"need_domain": "literacy"}],
    )

    async def listed(tier: int) -> bool:
        response = await client.get(
            "/v1/partners",
            params={"min_evidence_tier": tier, "need_domain": "staffing", "limit": 200},
            headers=admin.headers,
        )
        return partner_id in {item["id"] for item in response.json()["items"]}

    assert not await listed(4)
    await _decide(client, actors.reviewer, rejected, decision="reject", rationale="Not a study")
    assert (await _decide(client, actors.reviewer, evidence, decision="accept")).status_code == 200
    partner = await client.get(f"/v1/partners/{partner_id}", headers=admin.headers)
    assert partner.json()["evidence_tiers"] == {"staffing": 1}
    assert await listed(1)


async def test_every_write_records_exactly_one_audit_event(
    client: httpx.AsyncClient, actors: Actors, admin: Actor
) -> None:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    assert await _actions(client, admin, evidence["id"]) == ["evidence.submitted"]
    await client.patch(
        _url(evidence),
        json={"title": "Renamed"},
        headers=actors.partner.headers | {"If-Match": '"1"'},
    )
    await client.put(
        _url(evidence, "/document"),
        content=b"%PDF-1.7\n%%EOF\n",
        headers=actors.partner.headers | {"If-Match": '"2"', "Content-Type": "application/pdf"},
    )
    await _decide(client, actors.reviewer, evidence, decision="accept")
    actions = await _actions(client, admin, evidence["id"])
    assert sorted(actions) == sorted(
        [
            "evidence.submitted",
            "evidence.updated",
            "evidence.document_attached",
            "evidence.decided",
        ]
    )


async def test_classify_stores_nothing_and_applies_the_district_context(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    study = evidence_payload()
    context = {"grade_bands": ["high"], "student_groups": [], "locales": ["rural"]}
    response = await client.post(
        "/v1/evidence/classify", json=study | {"context": context}, headers=actors.district.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tier"] == 1
    assert body["findings"] == [{"tier": 1, "reasons": []}]
    assert body["in_context"]["tier"] == 3
    codes = {reason["code"] for reason in body["in_context"]["reasons"]}
    assert codes == {"population_mismatch", "setting_mismatch"}
    plain = await client.post("/v1/evidence/classify", json=study, headers=actors.partner.headers)
    assert plain.json()["in_context"] is None
    listed = await client.get(
        f"/v1/partners/{actors.partner_record['id']}/evidence", headers=actors.admin.headers
    )
    assert listed.json()["items"] == []
    unknown = study | {"findings": [study["findings"][0] | {"need_domain": "nope"}]}
    refused = await client.post("/v1/evidence/classify", json=unknown, headers=actors.admin.headers)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "findings", 0, "need_domain"]


async def test_a_decision_applies_only_to_the_version_the_reviewer_read(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    evidence = await submit_evidence(
        client, actors.partner, actors.partner_record["id"], sample_size=120
    )
    url = _url(evidence, "/decision")
    seen = (await client.get(_url(evidence), headers=actors.reviewer.headers)).headers["ETag"]
    missing = await client.post(url, json={"decision": "accept"}, headers=actors.reviewer.headers)
    assert missing.status_code == 428
    corrected = await client.patch(
        _url(evidence),
        json={"sample_size": 5000, "site_count": 9},
        headers=actors.partner.headers | {"If-Match": seen},
    )
    assert corrected.status_code == 200
    stale = await client.post(
        url, json={"decision": "accept"}, headers=actors.reviewer.headers | {"If-Match": seen}
    )
    assert stale.status_code == 412
    assert (await client.get(_url(evidence), headers=actors.admin.headers)).json()[
        "status"
    ] == "submitted"


async def test_concurrent_acceptances_for_one_partner_both_count(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id = actors.partner_record["id"]
    records = [
        await submit_evidence(client, actors.partner, partner_id),
        await submit_evidence(
            client,
            actors.partner,
            partner_id,
            findings=[
                {
                    "need_domain": "literacy",
                    "outcome": "Reading",
                    "direction": "favorable",
                    "significant": True,
                }
            ],
        ),
    ]
    decisions = await asyncio.gather(
        *(
            client.post(
                _url(record, "/decision"),
                json={"decision": "accept"},
                headers=actors.reviewer.headers | {"If-Match": f'"{record["version"]}"'},
            )
            for record in records
        )
    )
    assert [decision.status_code for decision in decisions] == [200, 200]
    partner = await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)
    assert partner.json()["evidence_tiers"] == {"literacy": 1, "staffing": 1}
