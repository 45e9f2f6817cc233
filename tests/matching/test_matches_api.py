"""POST/GET /v1/matches end to end: ownership, every exclusion, capacity, as_of, stored matches.

Every test works in a region of its own, so the partners other tests create are only ever
counted (in `excluded_counts`), never ranked; counts are compared before and after a change.
"""

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from app.core.base import utcnow
from app.engagements.track_record import QUALITIES
from app.matching.models import Match
from app.matching.service import PROFILE_FIELDS
from tests.conftest import backend
from tests.factories import (
    Actor,
    Actors,
    create_district,
    create_needs,
    create_partner,
    designate,
    engagement_payload,
    evidence_payload,
    force_partner_state,
    make_actor,
    needs_payload,
    review_in_progress,
    submit_evidence,
    unique,
)

TIER_4 = {
    "design": "logic_model",
    "standards_rating": "not_reviewed",
    "controls_for_selection_bias": False,
    "sample_size": None,
    "site_count": None,
    "findings": [
        {
            "need_domain": "staffing",
            "outcome": "Teacher retention",
            "direction": "favorable",
            "significant": False,
        }
    ],
}
ELSEWHERE = {"grade_bands": ["high"], "locales": ["rural"], "student_groups": []}


async def _district(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor
) -> tuple[str, str, Actor]:
    """A district in a region of its own: its id, its region, and a user of it."""
    district = await create_district(client, admin, region=unique("r"))
    user = await make_actor(app, "district", district_id=uuid.UUID(district["id"]))
    return district["id"], district["region"], user


async def _partner(
    app: FastAPI,
    client: httpx.AsyncClient,
    actors: Actors,
    region: str,
    *,
    studies: tuple[dict[str, Any], ...] = ({},),
    designated: bool = True,
    **overrides: Any,
) -> str:
    """A partner serving ``region``, its studies accepted by a state reviewer, designated today."""
    partner = await create_partner(client, actors.admin, regions=[region], **overrides)
    for study in studies:
        evidence = await submit_evidence(client, actors.admin, partner["id"], **study)
        accepted = await client.post(
            f"/v1/evidence/{evidence['id']}/decision",
            json={"decision": "accept"},
            headers=actors.reviewer.headers | {"If-Match": f'"{evidence["version"]}"'},
        )
        assert accepted.status_code == 200, accepted.text
    if designated:
        await designate(app, partner["id"])
    return str(partner["id"])


async def _match(client: httpx.AsyncClient, actor: Actor, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/matches", json={"limit": 50} | body, headers=actor.headers)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v1/matches/{response.json()['id']}"
    return dict(response.json())


def _result(match: dict[str, Any], partner_id: str) -> dict[str, Any] | None:
    return next((r for r in match["results"] if r["partner_id"] == partner_id), None)


def _reasons(match: dict[str, Any], partner_id: str) -> list[str]:
    miss = next(m for m in match["excluded"] if m["partner_id"] == partner_id)
    return [reason["code"] for reason in miss["reasons"]]


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    counts = (before["excluded_counts"], after["excluded_counts"])
    return {
        code: counts[1][code] - counts[0][code]
        for code in counts[1]
        if counts[1][code] != counts[0][code]
    }


async def test_a_match_ranks_explains_and_is_stored(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    full = await _partner(
        app,
        client,
        actors,
        region,
        need_domains=["staffing", "literacy"],
        studies=({}, {"findings": [{**TIER_4["findings"][0], "need_domain": "literacy"}]}),
    )
    partial = await _partner(app, client, actors, region, need_domains=["staffing"])
    profile = await create_needs(
        client, user, district_id, funding_source="other", min_evidence_tier=4
    )

    match = await _match(client, user, needs_id=profile["id"])

    assert set(match) >= {"id", "created_at", "needs_id", "district_id", "as_of", "weights"}
    assert match["needs_id"] == profile["id"]
    assert match["weights"]["need_coverage"] == 0.3
    assert [r["partner_id"] for r in match["results"]] == [full, partial]
    assert [r["rank"] for r in match["results"]] == [1, 2]
    first = match["results"][0]
    assert set(first["components"]) == {
        "need_coverage",
        "evidence",
        "due_diligence",
        "track_record",
        "capacity",
        "context_fit",
    }
    assert first["components"]["need_coverage"] == 1.0
    staffing, literacy = first["needs"]
    assert (staffing["need_domain"], staffing["covered"], staffing["tier"]) == ("staffing", True, 1)
    assert len(staffing["evidence_ids"]) == 1
    assert (literacy["covered"], literacy["tier"]) == (True, 4)
    second = _result(match, partial)
    assert second is not None
    assert second["components"]["need_coverage"] == round(5 / 7, 6)
    assert [need["served"] for need in second["needs"]] == [True, False]
    assert set(match["excluded_counts"]) >= {
        "designation_inactive",
        "region_not_served",
        "grade_band_not_served",
        "evidence_below_minimum",
        "at_capacity",
        "over_budget",
        "delivery_mode_mismatch",
        "need_not_served",
    }

    read = await client.get(f"/v1/matches/{match['id']}", headers=user.headers)
    assert read.status_code == 200
    assert read.json() == match
    listed = await client.get(
        "/v1/matches", params={"district_id": district_id}, headers=user.headers
    )
    assert [item["id"] for item in listed.json()["items"]] == [match["id"]]
    events = await client.get(
        "/v1/audit-events", params={"entity_id": match["id"]}, headers=actors.admin.headers
    )
    [event] = events.json()["items"]
    assert event["action"] == "match.created"
    assert event["changes"]["results"] == 2
    assert "excluded" not in event["changes"]


async def test_who_may_match_and_read_matches(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, _region, user = await _district(app, client, actors.admin)
    _other_id, _other_region, other = await _district(app, client, actors.admin)
    profile = await create_needs(client, user, district_id)
    inline = {"district_id": district_id, "needs": [{"need_domain": "staffing", "priority": 3}]}
    inline |= {"funding_source": "other", "min_evidence_tier": 4, "budget_per_school_year": 1}

    for body in ({"needs_id": profile["id"]}, inline):
        assert (
            await client.post("/v1/matches", json=body, headers=other.headers)
        ).status_code == 404
        assert (
            await client.post("/v1/matches", json=body, headers=actors.partner.headers)
        ).status_code == 403
    mine = await _match(client, user, **inline)
    assert mine["needs_id"] is None
    by_staff = await _match(client, actors.reviewer, needs_id=profile["id"])

    for match_id in (mine["id"], by_staff["id"]):
        url = f"/v1/matches/{match_id}"
        assert (await client.get(url, headers=user.headers)).status_code == 200
        assert (await client.get(url, headers=actors.admin.headers)).status_code == 200
        assert (await client.get(url, headers=other.headers)).status_code == 404
        assert (await client.get(url, headers=actors.partner.headers)).status_code == 403
    others = await client.get("/v1/matches", headers=other.headers)
    assert others.json()["items"] == []
    assert (await client.get("/v1/matches", headers=actors.partner.headers)).status_code == 403


async def test_stored_matches_are_listed_by_needs_profile(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, _region, user = await _district(app, client, actors.admin)
    _other_id, _other_region, other = await _district(app, client, actors.admin)
    lincoln = await create_needs(client, user, district_id, school_name="Lincoln Elementary")
    grant = await create_needs(client, user, district_id, school_name="Grant Middle")
    first = await _match(client, user, needs_id=lincoln["id"])
    await _match(client, user, needs_id=grant["id"])
    second = await _match(client, actors.reviewer, needs_id=lincoln["id"])

    for reader in (user, actors.admin):
        listed = await client.get(
            "/v1/matches", params={"needs_id": lincoln["id"]}, headers=reader.headers
        )
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()["items"]] == [first["id"], second["id"]]
    # Another district's filter finds nothing of this one, as every list it reads.
    elsewhere = await client.get(
        "/v1/matches", params={"needs_id": lincoln["id"]}, headers=other.headers
    )
    assert elsewhere.json()["items"] == []


async def test_bad_requests_are_422_and_keys_replay(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, _region, user = await _district(app, client, actors.admin)
    profile = await create_needs(client, user, district_id)
    for body in (
        {},
        {"needs_id": profile["id"], "district_id": district_id},
        {"needs_id": profile["id"], "funding_source": "other"},
        {"district_id": district_id},
        {"needs_id": profile["id"], "limit": 51},
        {"needs_id": profile["id"], "limit": "5"},
        {"needs_id": profile["id"], "as_of": "someday"},
        {"needs_id": profile["id"], "as_of": 946684800},
        {"needs_id": profile["id"], "as_of": "2024-01-01T00:00:00Z"},
        {"needs_id": profile["id"], "surprise": 1},
        {
            "district_id": district_id,
            "needs": [{"need_domain": "no_such_domain", "priority": 3}],
            "funding_source": "other",
            "min_evidence_tier": 4,
            "budget_per_school_year": 1,
        },
    ):
        response = await client.post("/v1/matches", json=body, headers=user.headers)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"

    key = {"Idempotency-Key": unique("key")} | user.headers
    first = await client.post("/v1/matches", json={"needs_id": profile["id"]}, headers=key)
    again = await client.post("/v1/matches", json={"needs_id": profile["id"]}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = await client.post(
        "/v1/matches", json={"needs_id": profile["id"], "limit": 3}, headers=key
    )
    assert other.status_code == 409


async def test_every_exclusion_code_through_the_api(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    profile = await create_needs(client, user, district_id)  # title_i_1003, tier 3, onsite
    before = await _match(client, user, needs_id=profile["id"])

    fits = await _partner(app, client, actors, region)
    high_only = await _partner(app, client, actors, region, grade_bands=["high"])
    tier_4 = await _partner(app, client, actors, region, studies=(TIER_4,))
    full = await _partner(app, client, actors, region, capacity=1)
    pricey = await _partner(
        app, client, actors, region, cost_per_school_year={"min": 70000, "max": 90000}
    )
    hybrid = await _partner(app, client, actors, region, delivery_modes=["hybrid"])
    engaged = await client.post(
        "/v1/engagements", json=engagement_payload(full, district_id), headers=user.headers
    )
    assert engaged.status_code == 201, engaged.text
    # Counted only: ruled out before their details are read.
    suspended = await _partner(app, client, actors, region)
    await force_partner_state(app, suspended, status="suspended")
    expired = await _partner(app, client, actors, region, designated=False)
    await force_partner_state(
        app,
        expired,
        status="approved",
        approved_at=utcnow() - timedelta(days=400),
        expires_at=utcnow() - timedelta(days=1),
    )
    await _partner(app, client, actors, unique("r"))  # another region, onsite only
    await _partner(app, client, actors, region, need_domains=["instruction"])

    after = await _match(client, user, needs_id=profile["id"])

    assert _result(after, fits) is not None
    assert _reasons(after, high_only) == ["grade_band_not_served"]
    assert _reasons(after, tier_4) == ["evidence_below_minimum"]
    assert _reasons(after, full) == ["at_capacity"]
    assert _reasons(after, pricey) == ["over_budget"]
    assert _reasons(after, hybrid) == ["delivery_mode_mismatch"]
    assert _delta(before, after) == {
        "designation_inactive": 2,
        "region_not_served": 1,
        "grade_band_not_served": 1,
        "need_not_served": 1,
        "evidence_below_minimum": 2,
        "at_capacity": 1,
        "over_budget": 1,
        "delivery_mode_mismatch": 1,
    }
    miss = next(m for m in after["excluded"] if m["partner_id"] == tier_4)
    assert "Tier 3 or stronger" in miss["reasons"][0]["message"]

    # Tier 4 is enough for other money when the district accepts it, never for section 1003.
    other_money = await create_needs(
        client, user, district_id, funding_source="other", min_evidence_tier=4
    )
    relaxed = await _match(client, user, needs_id=other_money["id"])
    ranked = _result(relaxed, tier_4)
    assert ranked is not None
    assert ranked["needs"][0]["tier"] == 4


async def test_virtual_delivery_reaches_another_region_when_the_district_accepts_it(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, _region, user = await _district(app, client, actors.admin)
    remote = await _partner(app, client, actors, unique("r"), delivery_modes=["virtual"])
    onsite_only = await create_needs(client, user, district_id)
    either = await create_needs(client, user, district_id, delivery_modes=["onsite", "virtual"])

    assert _result(await _match(client, user, needs_id=either["id"]), remote) is not None
    refused = await _match(client, user, needs_id=onsite_only["id"])
    assert _result(refused, remote) is None
    assert all(miss["partner_id"] != remote for miss in refused["excluded"])


async def test_engagements_use_up_capacity(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region, capacity=4)
    profile = await create_needs(client, user, district_id)
    assert (_result(await _match(client, user, needs_id=profile["id"]), partner_id) or {})[
        "components"
    ]["capacity"] == 1.0
    for _ in range(3):
        response = await client.post(
            "/v1/engagements",
            json=engagement_payload(partner_id, district_id),
            headers=user.headers,
        )
        assert response.status_code == 201
    busy = _result(await _match(client, user, needs_id=profile["id"]), partner_id)
    assert busy is not None
    assert busy["components"]["capacity"] == 0.25


async def test_a_match_for_a_later_day_frees_the_places_of_engagements_ended_by_then(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region, capacity=2)
    overdue_id = await _partner(app, client, actors, region, capacity=1)
    profile = await create_needs(client, user, district_id)
    today = utcnow().date()
    last_day = today + timedelta(days=60)
    engagements = []
    for partner, start, end in (
        (partner_id, today, last_day),
        (partner_id, today, None),
        (overdue_id, today - timedelta(days=100), today - timedelta(days=10)),
    ):
        payload = engagement_payload(
            partner, district_id, start_date=str(start), end_date=end and str(end)
        )
        created = await client.post("/v1/engagements", json=payload, headers=user.headers)
        assert created.status_code == 201, created.text
        engagements.append(created.json())

    async def on(day: date) -> dict[str, Any]:
        return await _match(client, user, needs_id=profile["id"], as_of=str(day))

    # Until today the status decides, as for a new engagement: an overdue one still holds.
    for day in (today - timedelta(days=1), today):
        assert _reasons(await on(day), partner_id) == ["at_capacity"]
        assert _reasons(await on(day), overdue_id) == ["at_capacity"]
    assert _reasons(await on(last_day), partner_id) == ["at_capacity"]
    freed = _result(await on(last_day + timedelta(days=1)), partner_id)
    assert freed is not None
    assert freed["components"]["capacity"] == 0.5
    assert _result(await on(last_day + timedelta(days=1)), overdue_id) is not None

    extended = await client.patch(
        f"/v1/engagements/{engagements[0]['id']}",
        json={"end_date": str(last_day + timedelta(days=30))},
        headers=user.headers | {"If-Match": f'"{engagements[0]["version"]}"'},
    )
    assert extended.status_code == 200, extended.text
    assert _reasons(await on(last_day + timedelta(days=1)), partner_id) == ["at_capacity"]


async def test_as_of_answers_for_another_day(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region)
    await force_partner_state(app, partner_id, expires_at=utcnow() + timedelta(days=30))
    profile = await create_needs(client, user, district_id)
    today = utcnow().date()

    now = await _match(client, user, needs_id=profile["id"])
    later = await _match(
        client, user, needs_id=profile["id"], as_of=str(today + timedelta(days=45))
    )

    assert now["as_of"] == today.isoformat()
    assert _result(now, partner_id) is not None
    assert _result(later, partner_id) is None
    assert later["as_of"] == (today + timedelta(days=45)).isoformat()
    assert (
        later["excluded_counts"]["designation_inactive"]
        > now["excluded_counts"]["designation_inactive"]
    )


async def test_a_renewing_partner_with_a_running_term_still_ranks(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region)
    await force_partner_state(app, partner_id, status="under_review")
    profile = await create_needs(client, user, district_id)
    assert _result(await _match(client, user, needs_id=profile["id"]), partner_id) is not None


async def test_a_stored_match_never_changes(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region)
    profile = await create_needs(client, user, district_id)
    match = await _match(client, user, needs_id=profile["id"])
    assert _result(match, partner_id) is not None

    await force_partner_state(app, partner_id, name="Renamed", status="suspended")
    edited = await client.patch(
        f"/v1/needs/{profile['id']}",
        json={"title": "Changed", "min_evidence_tier": 1},
        headers={"If-Match": '"1"'} | user.headers,
    )
    assert edited.status_code == 200, edited.text

    stored = await client.get(f"/v1/matches/{match['id']}", headers=user.headers)
    assert stored.json() == match
    fresh = await _match(client, user, needs_id=profile["id"])
    assert _result(fresh, partner_id) is None


async def test_a_match_reads_the_district_as_it_is_now(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    elsewhere = unique("r")
    here = await _partner(app, client, actors, region)
    there = await _partner(app, client, actors, elsewhere)
    profile = await create_needs(client, user, district_id)
    before = await _match(client, user, needs_id=profile["id"])
    assert _result(before, here) is not None
    assert _result(before, there) is None

    moved = await client.patch(
        f"/v1/districts/{district_id}",
        json={"region": elsewhere},
        headers=actors.admin.headers | {"If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text

    after = await _match(client, user, needs_id=profile["id"])
    assert _result(after, there) is not None
    assert _result(after, here) is None
    stored = await client.get(f"/v1/matches/{before['id']}", headers=user.headers)
    assert stored.json() == before


async def test_a_stored_profile_and_the_same_profile_inline_are_matched_on_the_same_inputs(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    await _partner(app, client, actors, region)
    district = (await client.get(f"/v1/districts/{district_id}", headers=user.headers)).json()
    terms = needs_payload(
        school_name="Lincoln Elementary", funding_source="other", min_evidence_tier=4
    )
    profile = await create_needs(client, user, district_id, **terms)
    served = (await client.get(f"/v1/needs/{profile['id']}", headers=user.headers)).json()

    by_id = await _match(client, user, needs_id=profile["id"])
    inline = await _match(client, user, district_id=district_id, **terms)

    async with app.state.database.sessions() as session:
        stored = {
            match.id: match.inputs
            for match in await session.scalars(
                select(Match).where(Match.id.in_([uuid.UUID(by_id["id"]), uuid.UUID(inline["id"])]))
            )
        }
    from_profile, from_body = stored[uuid.UUID(by_id["id"])], stored[uuid.UUID(inline["id"])]
    assert from_profile == from_body
    assert from_profile["profile"] == {name: served[name] for name in PROFILE_FIELDS}
    assert (from_profile["region"], from_profile["locale"]) == (region, district["locale"])
    assert by_id["results"]
    assert (by_id["results"], by_id["excluded"]) == (inline["results"], inline["excluded"])


async def test_evidence_counts_in_the_districts_context(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)  # a city district
    here = await _partner(app, client, actors, region)
    elsewhere = await _partner(app, client, actors, region, studies=(ELSEWHERE,))
    profile = await create_needs(client, user, district_id)

    match = await _match(client, user, needs_id=profile["id"])
    near, far = _result(match, here), _result(match, elsewhere)
    assert near is not None
    assert far is not None
    assert (near["needs"][0]["tier"], near["needs"][0]["context_free_tier"]) == (1, 1)
    assert (far["needs"][0]["tier"], far["needs"][0]["context_free_tier"]) == (3, 1)
    assert near["components"]["evidence"] > far["components"]["evidence"]
    assert near["score"] > far["score"]

    strict = await create_needs(
        client, user, district_id, funding_source="other", min_evidence_tier=2
    )
    demanding = await _match(client, user, needs_id=strict["id"])
    assert _result(demanding, here) is not None
    assert _reasons(demanding, elsewhere) == ["evidence_below_minimum"]


async def test_evidence_an_unfavorable_result_cancels_covers_no_need(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    """A record keeps its finding's tier, but the partner's tier in that domain is gone."""
    district_id, region, user = await _district(app, client, actors.admin)
    without_rationale = {"has_logic_model": False, "research_basis": False}
    harm = {
        "need_domain": "staffing",
        "outcome": "Teacher retention",
        "direction": "unfavorable",
        "significant": True,
        "effect_size": -0.2,
        "p_value": 0.01,
    }
    partner_id = await _partner(
        app,
        client,
        actors,
        region,
        studies=(without_rationale, without_rationale | {"findings": [harm]}),
    )
    partner = await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)
    assert "staffing" not in partner.json()["evidence_tiers"]

    match = await _match_staffing_at_tier_4(client, user, district_id)
    assert _reasons(match, partner_id) == ["evidence_below_minimum"]


async def _match_staffing_at_tier_4(
    client: httpx.AsyncClient, user: Actor, district_id: str
) -> dict[str, Any]:
    """A match that asks for tier 4 in staffing alone."""
    profile = await create_needs(
        client,
        user,
        district_id,
        needs=[{"need_domain": "staffing", "priority": 5}],
        funding_source="other",
        min_evidence_tier=4,
    )
    return await _match(client, user, needs_id=profile["id"])


async def _staffing_at_tier_4(
    client: httpx.AsyncClient, user: Actor, district_id: str, partner_id: str
) -> dict[str, Any]:
    """The partner's staffing need in a match that asks for tier 4 in staffing alone."""
    result = _result(await _match_staffing_at_tier_4(client, user, district_id), partner_id)
    assert result is not None
    [staffing] = result["needs"]
    return dict(staffing)


async def _evidence(
    client: httpx.AsyncClient, actor: Actor, partner_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/partners/{partner_id}/evidence", headers=actor.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_subgroup_finding_counts_as_the_partners_tiers_count_it(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    subgroup_only = {"findings": [evidence_payload()["findings"][0] | {"subgroup": True}]}
    partner_id = await _partner(app, client, actors, region, studies=(subgroup_only,))
    partner = await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)
    assert partner.json()["evidence_tiers"] == {"staffing": 4}

    staffing = await _staffing_at_tier_4(client, user, district_id, partner_id)

    assert (staffing["tier"], staffing["context_free_tier"], staffing["covered"]) == (4, 4, True)
    [record] = await _evidence(client, actors.admin, partner_id)
    assert staffing["evidence_ids"] == [record["id"]]


async def test_evidence_an_unfavorable_result_cancels_is_not_named_behind_a_tier(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    """Tier 4 in staffing stands on the logic model alone: the cancelled tier-1 study without
    a rationale of its own is not evidence behind it."""
    district_id, region, user = await _district(app, client, actors.admin)
    without_rationale = {"has_logic_model": False, "research_basis": False}
    harm = evidence_payload()["findings"][0] | {"direction": "unfavorable", "effect_size": -0.2}
    partner_id = await _partner(
        app,
        client,
        actors,
        region,
        studies=(without_rationale, TIER_4, without_rationale | {"findings": [harm]}),
    )
    partner = await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)
    assert partner.json()["evidence_tiers"] == {"staffing": 4}
    [logic_model] = [
        record["id"]
        for record in await _evidence(client, actors.admin, partner_id)
        if record["design"] == "logic_model"
    ]

    staffing = await _staffing_at_tier_4(client, user, district_id, partner_id)

    assert (staffing["tier"], staffing["context_free_tier"]) == (4, 4)
    assert staffing["evidence_ids"] == [logic_model]


async def test_due_diligence_comes_from_the_approving_review(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region, designated=False)
    review_id = await review_in_progress(client, actors, partner_id, scores=(3, 4))
    decided = await client.post(
        f"/v1/reviews/{review_id}/decision",
        json={"decision": "approve", "rationale": "Per the rubric."},
        headers=actors.admin.headers,
    )
    assert decided.status_code == 201, decided.text
    profile = await create_needs(client, user, district_id)

    ranked = _result(await _match(client, user, needs_id=profile["id"]), partner_id)
    assert ranked is not None
    # Every criterion scored 3 by one reviewer and 4 by the other on the default 1-4 scale.
    assert ranked["components"]["due_diligence"] == round((3.5 - 1) / 3, 6)


async def test_track_record_comes_from_the_latest_check_in_of_each_engagement(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region)
    profile = await create_needs(client, user, district_id)

    async def track_record() -> float:
        ranked = _result(await _match(client, user, needs_id=profile["id"]), partner_id)
        assert ranked is not None
        return float(ranked["components"]["track_record"])

    async def check_in(engagement_id: str, progress: str, rating: int) -> None:
        ratings = dict.fromkeys(QUALITIES, rating)
        response = await client.post(
            f"/v1/engagements/{engagement_id}/check-ins",
            json={"held_on": date.today().isoformat(), "progress": progress, "ratings": ratings},
            headers=user.headers,
        )
        assert response.status_code == 201, response.text

    engagements = []
    for _ in range(2):
        created = await client.post(
            "/v1/engagements",
            json=engagement_payload(partner_id, district_id, start_date="2026-01-05"),
            headers=user.headers,
        )
        assert created.status_code == 201, created.text
        engagements.append(created.json()["id"])
    assert await track_record() == 0.5  # engagements, but no check-in yet

    # Each match right after a check-in already counts it (the index reloads the partner).
    await check_in(engagements[0], "no_progress", 1)
    assert await track_record() == round((0 + 0.5 * 2) / (1 + 2), 6)
    # An engagement counts with its latest check-in; every rating at 4 and goals met is 1.
    await check_in(engagements[0], "met", 4)
    assert await track_record() == round((1 + 0.5 * 2) / (1 + 2), 6)
    await check_in(engagements[1], "some_progress", 3)
    second = (1 / 3 + 2 / 3) / 2
    assert await track_record() == round((1 + second + 0.5 * 2) / (2 + 2), 6)


@pytest.mark.skipif(backend() != "postgresql", reason="SQLite compresses nothing")
async def test_stored_answers_are_compressed_with_lz4_where_postgresql_has_it(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    for _ in range(8):  # enough results for an answer that PostgreSQL compresses (over 2 KB)
        await _partner(app, client, actors, region)
    match = await _match(
        client, user, needs_id=(await create_needs(client, user, district_id))["id"]
    )

    async with app.state.database.sessions() as session:
        offered = await session.scalar(
            text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        )
        method, size = (
            await session.execute(
                text(
                    "SELECT pg_column_compression(response), octet_length(response::text) "
                    "FROM matches WHERE id = :id"
                ),
                {"id": uuid.UUID(match["id"])},
            )
        ).one()
    assert size > 2048
    assert method == ("lz4" if "lz4" in offered else "pglz")
