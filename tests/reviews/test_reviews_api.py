"""Due diligence end to end: rubrics, reviews, scores, conflicts, four eyes, decisions, terms."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.base import utcnow
from app.engagements.track_record import QUALITIES
from tests.factories import (
    DEFAULT_CRITERIA,
    DEFAULT_RUBRIC,
    Actor,
    Actors,
    check_in_payload,
    create_partner,
    designate,
    engagement_payload,
    force_partner_state,
    make_actor,
    move_partner,
    review_in_progress,
    rubric_payload,
    scores_payload,
)

REQUIRED = [c["code"] for c in DEFAULT_RUBRIC["criteria"] if c["required"]]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _open(client: httpx.AsyncClient, actor: Actor, partner_id: str, **body: Any) -> dict:
    response = await client.post(
        f"/v1/partners/{partner_id}/reviews", json=body, headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _score(
    client: httpx.AsyncClient, actor: Actor, review_id: str, body: dict, if_match: str | None = None
) -> httpx.Response:
    headers = actor.headers | ({"If-Match": if_match} if if_match else {})
    return await client.put(f"/v1/reviews/{review_id}/scores", json=body, headers=headers)


async def _decide(
    client: httpx.AsyncClient, actor: Actor, review_id: str, decision: str, **body: Any
) -> httpx.Response:
    payload = {"decision": decision, "rationale": "Per the rubric."} | body
    return await client.post(
        f"/v1/reviews/{review_id}/decision", json=payload, headers=actor.headers
    )


async def _approved(client: httpx.AsyncClient, actors: Actors, **body: Any) -> tuple[str, str]:
    """A fresh partner approved through a review scored by admin and reviewer."""
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    decided = await _decide(client, actors.admin, review_id, "approve", **body)
    assert decided.status_code == 201, decided.text
    return partner["id"], review_id


async def test_default_rubric_exists_and_rubrics_are_versioned_by_name(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    listed = await client.get(
        "/v1/rubrics", params={"name": DEFAULT_RUBRIC["name"]}, headers=actors.district.headers
    )
    default = listed.json()["items"][0]
    assert default["version"] == 1
    assert [c["code"] for c in default["criteria"]] == DEFAULT_CRITERIA
    assert len(DEFAULT_CRITERIA) == 12
    assert {"evidence_base", "compliance_safeguards"} <= set(REQUIRED)

    first = await client.post("/v1/rubrics", json=rubric_payload(), headers=actors.admin.headers)
    assert first.status_code == 201
    assert first.headers["Location"] == f"/v1/rubrics/{first.json()['id']}"
    name = first.json()["name"]
    partner = await create_partner(client, actors.admin)
    await review_in_progress(client, actors, partner["id"], open_review=False)
    review = await _open(client, actors.admin, partner["id"], rubric_id=first.json()["id"])

    edited = rubric_payload(name=name, scale={"min": 1, "max": 5})
    second = await client.post("/v1/rubrics", json=edited, headers=actors.admin.headers)
    assert second.json()["version"] == 2
    versions = await client.get("/v1/rubrics", params={"name": name}, headers=actors.admin.headers)
    assert [r["version"] for r in versions.json()["items"]] == [1, 2]
    kept = await client.get(f"/v1/reviews/{review['id']}", headers=actors.admin.headers)
    assert kept.json()["rubric"]["version"] == 1
    assert kept.json()["rubric"]["scale"] == {"min": 0, "max": 4}
    # Each version's trail holds what it published.
    events = await client.get(
        "/v1/audit-events", params={"entity_id": second.json()["id"]}, headers=actors.admin.headers
    )
    [published] = events.json()["items"]
    assert published["changes"]["version"] == 2
    assert published["changes"]["scale"] == {"min": 1, "max": 5}
    assert published["changes"]["criteria"] == second.json()["criteria"]


@pytest.mark.parametrize(
    "change",
    [
        {"scale": {"min": 3, "max": 3}},
        {"criteria": [{"code": "a", "name": "A", "weight": 1}] * 2},
        {"criteria": [{"code": "a", "name": "A", "weight": 0}]},
        {"criteria": [{"code": "a", "name": "A", "weight": True}]},
        {"scale": {"min": False, "max": 3}},
        {"criteria": [{"code": "a", "name": "A", "weight": 1, "required": "yes"}]},
        {"criteria": [{"code": "a", "name": "A", "weight": 1, "required": 1}]},
        {"criteria": []},
        {"criteria": [{"code": "a", "name": "A\x00", "weight": 1}]},
        {"name": "x" * 201},
        {"extra": True},
    ],
)
async def test_bad_rubrics_are_422(
    client: httpx.AsyncClient, admin: Actor, change: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/rubrics", json=rubric_payload(**change), headers=admin.headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_partners_under_review_are_reviewed_once_at_a_time(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    partner = await create_partner(client, actors.admin)
    url = f"/v1/partners/{partner['id']}/reviews"
    draft = await client.post(url, json={}, headers=actors.admin.headers)
    assert draft.status_code == 409
    await force_partner_state(app, partner["id"], evidence_tiers={"staffing": 2})
    await review_in_progress(client, actors, partner["id"], open_review=False)
    unknown = await client.post(
        url, json={"rubric_id": partner["id"]}, headers=actors.admin.headers
    )
    assert unknown.status_code == 422
    review = await _open(client, actors.reviewer, partner["id"])
    assert review["rubric"]["name"] == DEFAULT_RUBRIC["name"]
    assert review["state"] == "open"
    assert review["evidence_tiers"] == {"staffing": 2}
    assert review["track_record"] == {"value": None, "engagements": 0}
    assert review["scoring"]["overall"] is None
    again = await client.post(url, json={}, headers=actors.admin.headers)
    assert again.status_code == 409


async def test_a_renewal_review_shows_the_track_record_from_check_ins(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    partner = await create_partner(client, actors.admin)
    await designate(app, partner["id"])
    engagement = await client.post(
        "/v1/engagements",
        json=engagement_payload(partner["id"], actors.district_record["id"]),
        headers=actors.district.headers,
    )
    assert engagement.status_code == 201, engagement.text
    top = check_in_payload(progress="met", ratings=dict.fromkeys(QUALITIES, 4))
    checked = await client.post(
        f"/v1/engagements/{engagement.json()['id']}/check-ins",
        json=top,
        headers=actors.district.headers,
    )
    assert checked.status_code == 201, checked.text
    renewing = await client.post(
        f"/v1/partners/{partner['id']}/status",
        json={"status": "under_review"},
        headers=actors.admin.headers,
    )
    assert renewing.status_code == 200, renewing.text

    review = await _open(client, actors.reviewer, partner["id"])
    # As matching counts it: one engagement at 1, pulled towards 0.5 by two at 0.5.
    expected = {"value": pytest.approx(2 / 3), "engagements": 1}
    assert review["track_record"] == expected
    read = await client.get(f"/v1/reviews/{review['id']}", headers=actors.admin.headers)
    assert read.json()["track_record"] == expected
    own = await make_actor(app, "partner", partner_id=partner["id"])
    seen = await client.get(f"/v1/reviews/{review['id']}", headers=own.headers)
    assert seen.status_code == 200
    assert "track_record" not in seen.json()


async def test_scores_combine_per_criterion_then_by_weight(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    rubric = (
        await client.post("/v1/rubrics", json=rubric_payload(), headers=actors.admin.headers)
    ).json()
    partner = await create_partner(client, actors.admin)
    await review_in_progress(client, actors, partner["id"], open_review=False)
    review = await _open(client, actors.admin, partner["id"], rubric_id=rubric["id"])
    first = {
        "conflict_of_interest": {"declared": False, "statement": "None."},
        "scores": [
            {"criterion": "evidence", "score": 4, "notes": "Two RCTs."},
            {"criterion": "fit", "score": 0, "notes": ""},
        ],
    }
    second = scores_payload(2, ["evidence"])
    assert (await _score(client, actors.admin, review["id"], first)).status_code == 201
    assert (await _score(client, actors.reviewer, review["id"], second)).status_code == 201

    read = (await client.get(f"/v1/reviews/{review['id']}", headers=actors.admin.headers)).json()
    by_code = {row["criterion"]: row for row in read["scoring"]["criteria"]}
    assert by_code["evidence"] == {
        "criterion": "evidence",
        "mean": 3.0,
        "normalised": 0.75,
        "reviewers": 2,
    }
    assert by_code["fit"]["normalised"] == 0.0
    # (3 * 0.75 + 1 * 0.0) / (3 + 1)
    assert read["scoring"]["overall"] == pytest.approx(0.5625)
    assert read["scoring"]["unscored_required"] == []
    assert len(read["sheets"]) == 2


async def test_score_sheets_are_validated_and_versioned(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner = await create_partner(client, actors.admin)
    await review_in_progress(client, actors, partner["id"], open_review=False)
    review_id = (await _open(client, actors.admin, partner["id"]))["id"]

    unknown = await _score(client, actors.reviewer, review_id, scores_payload(3, ["nope"]))
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "scores", 0, "criterion"]
    out_of_scale = await _score(client, actors.reviewer, review_id, scores_payload(5))
    assert out_of_scale.status_code == 422
    boolean = await _score(client, actors.reviewer, review_id, scores_payload(True))
    assert boolean.status_code == 422
    for flag in ("no", 0, "false"):
        loose = scores_payload(3)
        loose["conflict_of_interest"]["declared"] = flag
        assert (await _score(client, actors.reviewer, review_id, loose)).status_code == 422
    twice = scores_payload(3, ["aligned", "aligned"])
    assert (await _score(client, actors.reviewer, review_id, twice)).status_code == 422
    assert (
        await client.get(f"/v1/reviews/{review_id}/scores", headers=actors.reviewer.headers)
    ).status_code == 404

    created = await _score(client, actors.reviewer, review_id, scores_payload(3))
    # The first PUT creates the sheet: 201 with where it is, as every create answers.
    assert created.status_code == 201
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/v1/reviews/{review_id}/scores"
    assert (await _score(client, actors.reviewer, review_id, scores_payload(2))).status_code == 428
    changed = await _score(
        client, actors.reviewer, review_id, scores_payload(2, ["aligned"]), '"1"'
    )
    assert changed.status_code == 200
    assert changed.json()["scores"] == [
        {"criterion": "aligned", "score": 2, "notes": "Notes on aligned."}
    ]
    assert changed.headers["ETag"] == '"2"'
    stale = await _score(client, actors.reviewer, review_id, scores_payload(4), '"1"')
    assert stale.status_code == 412
    mine = await client.get(f"/v1/reviews/{review_id}/scores", headers=actors.reviewer.headers)
    assert mine.headers["ETag"] == '"2"'
    assert mine.json()["scores"][0]["score"] == 2

    # The same sheet again changes nothing: same version, no event. A new note is a change.
    def trail() -> Any:
        return client.get(
            "/v1/audit-events", params={"entity_id": review_id}, headers=actors.admin.headers
        )

    before = (await trail()).json()["items"]
    same = await _score(client, actors.reviewer, review_id, scores_payload(2, ["aligned"]), '"2"')
    assert (same.status_code, same.headers["ETag"]) == (200, '"2"')
    assert (await trail()).json()["items"] == before
    noted = scores_payload(2, ["aligned"])
    noted["scores"][0]["notes"] = "Revised: the 2024 audit found gaps."
    renoted = await _score(client, actors.reviewer, review_id, noted, '"2"')
    assert (renoted.status_code, renoted.headers["ETag"]) == (200, '"3"')
    last = (await trail()).json()["items"][-1]
    assert last["action"] == "review.scored"
    assert last["changes"]["notes"] == [
        {"aligned": "Notes on aligned."},
        {"aligned": "Revised: the 2024 audit found gaps."},
    ]
    assert "scores" not in last["changes"]


async def test_a_declared_conflict_is_recorded_scores_nothing_and_bars_deciding(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    declared = await _score(
        client, actors.reviewer, review_id, scores_payload(declared=True), '"1"'
    )
    assert declared.status_code == 409
    assert declared.headers["content-type"] == "application/problem+json"

    sheet = await client.get(f"/v1/reviews/{review_id}/scores", headers=actors.reviewer.headers)
    assert sheet.json()["conflict_of_interest"]["declared"] is True
    assert sheet.json()["scores"] == []
    retry = await _score(client, actors.reviewer, review_id, scores_payload(), '"2"')
    assert retry.status_code == 409
    assert (await _decide(client, actors.reviewer, review_id, "defer")).status_code == 409

    # The conflicted reviewer's scores no longer count, so the admin is the only scorer left.
    review = (await client.get(f"/v1/reviews/{review_id}", headers=actors.admin.headers)).json()
    assert {row["reviewers"] for row in review["scoring"]["criteria"]} == {1}
    assert (await _decide(client, actors.admin, review_id, "approve")).status_code == 409


async def test_four_eyes_and_required_criteria_before_approval(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    partner = await create_partner(client, actors.admin)
    await review_in_progress(client, actors, partner["id"], open_review=False)
    review_id = (await _open(client, actors.admin, partner["id"]))["id"]
    partial = [code for code in DEFAULT_CRITERIA if code not in {"evidence_base", "aligned"}]
    assert (
        await _score(client, actors.admin, review_id, scores_payload(3, partial))
    ).status_code == 201

    alone = await _decide(client, actors.admin, review_id, "approve")
    assert alone.status_code == 409
    assert "Four eyes" in alone.json()["detail"]
    assert (await _decide(client, actors.admin, review_id, "deny")).status_code == 409

    missing = await _decide(client, actors.reviewer, review_id, "approve")
    assert missing.status_code == 409
    assert missing.json()["missing"] == [c for c in REQUIRED if c in {"evidence_base", "aligned"}]
    assert "evidence_base" in missing.json()["detail"]

    third = await make_actor(app, "state_reviewer")
    rest = scores_payload(3, ["evidence_base", "aligned"])
    assert (await _score(client, third, review_id, rest)).status_code == 201
    approved = await _decide(client, actors.admin, review_id, "approve")
    assert approved.status_code == 201, approved.text


async def test_approval_designates_for_a_term_once(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    before = utcnow()
    partner_id, review_id = await _approved(client, actors, term_months=12)
    partner = (await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)).json()
    assert partner["status"] == "approved"
    approved_at = ts(partner["designation"]["approved_at"])
    expires_at = ts(partner["designation"]["expires_at"])
    assert before <= approved_at <= utcnow()
    assert timedelta(days=365) <= expires_at - approved_at <= timedelta(days=366)

    again = await _decide(client, actors.reviewer, review_id, "deny")
    assert again.status_code == 409
    scores = await _score(client, actors.reviewer, review_id, scores_payload(1), '"1"')
    assert scores.status_code == 409
    history = await client.get(
        f"/v1/partners/{partner_id}/designations", headers=actors.admin.headers
    )
    [designation] = history.json()["items"]
    assert designation["review_id"] == review_id
    assert designation["state"] == "active"
    assert designation["expires_at"] == partner["designation"]["expires_at"]

    default_term = await _approved(client, actors)
    read = await client.get(f"/v1/reviews/{default_term[1]}", headers=actors.admin.headers)
    assert read.json()["decision"]["term_months"] == 36


async def test_conditions_reach_the_partner_but_scores_never_do(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    partner_id = actors.partner_record["id"]
    review_id = await review_in_progress(client, actors, partner_id)
    conditions = ["Quarterly progress reports to the state."]
    no_conditions = await _decide(client, actors.admin, review_id, "approve_with_conditions")
    assert no_conditions.status_code == 422
    stray = await _decide(client, actors.admin, review_id, "deny", conditions=conditions)
    assert stray.status_code == 422
    boolean = await _decide(client, actors.admin, review_id, "approve", term_months=True)
    assert boolean.status_code == 422
    decided = await _decide(
        client, actors.reviewer, review_id, "approve_with_conditions", conditions=conditions
    )
    assert decided.status_code == 201
    partner_view = await client.get(f"/v1/reviews/{review_id}", headers=actors.partner.headers)
    assert partner_view.status_code == 200
    body = partner_view.json()
    assert set(body) == {"id", "partner_id", "rubric", "state", "created_at", "decision"}
    assert set(body["decision"]) == {"decision", "term_months", "conditions", "decided_at"}
    assert body["decision"]["conditions"] == conditions
    assert "Notes on" not in partner_view.text
    listed = await client.get(f"/v1/partners/{partner_id}/reviews", headers=actors.partner.headers)
    assert [item["id"] for item in listed.json()["items"]] == [review_id]
    assert "sheets" not in listed.json()["items"][0]
    assert (
        await client.get(f"/v1/reviews/{review_id}", headers=actors.district.headers)
    ).status_code == 403

    other = await create_partner(client, actors.admin)
    other_review = await review_in_progress(client, actors, other["id"])
    hidden = await client.get(f"/v1/reviews/{other_review}", headers=actors.partner.headers)
    assert hidden.status_code == 404
    history = await client.get(
        f"/v1/partners/{partner_id}/designations", headers=actors.partner.headers
    )
    assert history.json()["items"][0]["conditions"] == conditions


async def test_deny_and_defer(client: httpx.AsyncClient, actors: Actors) -> None:
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    assert (await _decide(client, actors.admin, review_id, "defer")).status_code == 201
    url = f"/v1/partners/{partner['id']}"
    assert (await client.get(url, headers=actors.admin.headers)).json()["status"] == "under_review"
    second = await _open(client, actors.admin, partner["id"])
    for actor in (actors.admin, actors.reviewer):
        await _score(client, actor, second["id"], scores_payload(1))
    denied = await _decide(client, actors.reviewer, second["id"], "deny")
    assert denied.status_code == 201
    read = (await client.get(url, headers=actors.admin.headers)).json()
    assert read["status"] == "denied"
    assert read["designation"] is None
    assert read["status_reason"]


async def test_expiry_by_date_and_renewal_of_an_expired_partner(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    partner_id, _ = await _approved(client, actors)
    now = utcnow()
    await force_partner_state(
        app, partner_id, approved_at=now - timedelta(days=400), expires_at=now - timedelta(days=1)
    )
    url = f"/v1/partners/{partner_id}"
    assert (await client.get(url, headers=actors.admin.headers)).json()["status"] == "expired"
    refused = await client.post(f"{url}/reviews", json={}, headers=actors.admin.headers)
    assert refused.status_code == 409
    await move_partner(client, actors.admin, partner_id, "under_review")
    review = await _open(client, actors.admin, partner_id)
    for actor in (actors.admin, actors.reviewer):
        await _score(client, actor, review["id"], scores_payload(4))
    assert (await _decide(client, actors.reviewer, review["id"], "approve")).status_code == 201
    renewed = (await client.get(url, headers=actors.admin.headers)).json()
    assert renewed["status"] == "approved"
    assert ts(renewed["designation"]["approved_at"]) >= now


async def test_renewing_a_running_term_keeps_it_until_the_new_one_starts(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id, first_review = await _approved(client, actors)
    url = f"/v1/partners/{partner_id}"
    await move_partner(client, actors.admin, partner_id, "under_review")
    renewing = (await client.get(url, headers=actors.admin.headers)).json()
    assert renewing["status"] == "under_review"
    assert renewing["designation"] is not None
    directory = await client.get("/v1/directory", params={"q": renewing["name"]})
    assert [item["id"] for item in directory.json()["items"]] == [partner_id]
    assert (await client.get(url, headers=actors.district.headers)).status_code == 200

    review = await _open(client, actors.admin, partner_id)
    for actor in (actors.admin, actors.reviewer):
        await _score(client, actor, review["id"], scores_payload(3))
    assert (await _decide(client, actors.admin, review["id"], "approve")).status_code == 201
    history = (await client.get(f"{url}/designations", headers=actors.partner.headers)).status_code
    assert history == 404  # another partner's designations are not this partner's business
    items = (await client.get(f"{url}/designations", headers=actors.admin.headers)).json()["items"]
    assert [item["review_id"] for item in items] == [first_review, review["id"]]
    assert [item["state"] for item in items] == ["ended", "active"]
    assert items[0]["ended_reason"] == "renewed"


async def test_suspension_and_withdrawal_keep_their_reasons_in_the_history(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id, _ = await _approved(client, actors)
    url = f"/v1/partners/{partner_id}"
    for status, reason in (
        ("suspended", "Missed two quarterly reviews."),
        ("approved", "Corrective plan accepted."),
        ("withdrawn", "No gains after two years."),
    ):
        response = await client.post(
            f"{url}/status", json={"status": status, "reason": reason}, headers=actors.admin.headers
        )
        assert response.status_code == 200, response.text
    [designation] = (await client.get(f"{url}/designations", headers=actors.admin.headers)).json()[
        "items"
    ]
    assert [(e["event"], e["reason"]) for e in designation["events"]] == [
        ("suspended", "Missed two quarterly reviews."),
        ("reinstated", "Corrective plan accepted."),
    ]
    assert designation["state"] == "ended"
    # The partner reads the term as ended when it did, and its trail says so.
    read = (await client.get(url, headers=actors.admin.headers)).json()
    assert read["designation"]["expires_at"] == designation["ended_at"]
    events = await client.get(
        "/v1/audit-events",
        params={"entity_id": partner_id, "action": "partner.status_changed"},
        headers=actors.admin.headers,
    )
    withdrawal = events.json()["items"][-1]["changes"]
    assert withdrawal["status"] == ["approved", "withdrawn"]
    assert [ts(moment) for moment in withdrawal["expires_at"]] == [
        ts(designation["expires_at"]),
        ts(designation["ended_at"]),
    ]
    assert designation["ended_reason"] == "withdrawn: No gains after two years."

    # Why is between the state and the partner, as the partner's own status_reason is.
    seen_by_district = await client.get(f"{url}/designations", headers=actors.district.headers)
    [as_district] = seen_by_district.json()["items"]
    assert [(e["event"], e["reason"]) for e in as_district["events"]] == [
        ("suspended", None),
        ("reinstated", None),
    ]
    assert (as_district["state"], as_district["ended_reason"]) == ("ended", "withdrawn")


async def test_each_due_diligence_write_records_one_event(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    await _decide(client, actors.admin, review_id, "approve")
    events = await client.get(
        "/v1/audit-events", params={"entity_id": review_id}, headers=actors.admin.headers
    )
    assert [e["action"] for e in events.json()["items"]] == [
        "review.opened",
        "review.scored",
        "review.scored",
        "review.decided",
    ]
    decided = events.json()["items"][-1]["changes"]
    assert decided["status"] == ["under_review", "approved"]
    # Why and on what terms, as the decision itself says.
    assert (decided["rationale"], decided["conditions"], decided["term_months"]) == (
        "Per the rubric.",
        [],
        36,
    )
    on_partner = await client.get(
        "/v1/audit-events",
        params={"entity_id": partner["id"], "action": "partner.status_changed"},
        headers=actors.admin.headers,
    )
    assert [e["changes"] for e in on_partner.json()["items"]][-1] == {
        "status": ["under_review", "approved"],
        "reason": None,
        "review_id": review_id,
    }


async def test_two_reviewers_deciding_at_once_make_one_decision_and_one_designation(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    partner = await create_partner(client, actors.admin)
    review_id = await review_in_progress(client, actors, partner["id"])
    third = await make_actor(app, "state_reviewer")
    # Each request gets its own session and connection from the app, as in production.
    results = await asyncio.gather(
        _decide(client, actors.admin, review_id, "approve"),
        _decide(client, actors.reviewer, review_id, "approve", term_months=12),
        _decide(client, third, review_id, "deny"),
    )
    codes = sorted(response.status_code for response in results)
    assert codes == [201, 409, 409], [response.text for response in results]
    history = await client.get(
        f"/v1/partners/{partner['id']}/designations", headers=actors.admin.headers
    )
    winner = next(response for response in results if response.status_code == 201)
    expected = 0 if winner.json()["decision"]["decision"] == "deny" else 1
    assert len(history.json()["items"]) == expected
    events = await client.get(
        "/v1/audit-events",
        params={"entity_id": review_id, "action": "review.decided"},
        headers=actors.admin.headers,
    )
    assert len(events.json()["items"]) == 1


async def test_a_term_denied_at_renewal_ends_and_stays_ended(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner_id, _ = await _approved(client, actors)
    await move_partner(client, actors.admin, partner_id, "under_review")
    review = await _open(client, actors.admin, partner_id)
    for actor in (actors.admin, actors.reviewer):
        await _score(client, actor, review["id"], scores_payload(1))
    term = (await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)).json()
    assert (await _decide(client, actors.admin, review["id"], "deny")).status_code == 201
    denied = (await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)).json()
    assert ts(denied["designation"]["expires_at"]) <= utcnow()
    events = await client.get(
        "/v1/audit-events",
        params={"entity_id": partner_id, "action": "partner.status_changed"},
        headers=actors.admin.headers,
    )
    cut = events.json()["items"][-1]["changes"]["expires_at"]
    assert [ts(moment) for moment in cut] == [
        ts(term["designation"]["expires_at"]),
        ts(denied["designation"]["expires_at"]),
    ]

    # Applying again must not revive the old term in the directory or in matching.
    await move_partner(client, actors.admin, partner_id, "submitted", "under_review")
    directory = await client.get("/v1/directory", params={"q": denied["name"]})
    assert directory.json()["items"] == []


async def test_two_reviews_opened_at_once_make_one_review(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    partner = await create_partner(client, actors.admin)
    await review_in_progress(client, actors, partner["id"], open_review=False)
    url = f"/v1/partners/{partner['id']}/reviews"
    responses = await asyncio.gather(
        *(client.post(url, json={}, headers=actors.admin.headers) for _ in range(3))
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409]
