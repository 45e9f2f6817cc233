"""Every route in the committed OpenAPI spec, called by every role and anonymously.

A route without an entry in MATRIX fails `test_every_route_has_an_entry`: adding a route means
deciding here who may call it. Path parameters name objects that belong to the district and
partner actors of the run, so 404 marks another tenant's object and 403 a forbidden action.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    Actors,
    check_in_payload,
    create_needs,
    designate,
    district_payload,
    engagement_payload,
    evidence_payload,
    needs_payload,
    partner_payload,
    review_in_progress,
    rubric_payload,
    scores_payload,
    submit_evidence,
    unique,
)

SPEC = json.loads((Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text())
ROLES = ("anonymous", "state_admin", "state_reviewer", "district", "partner")


@dataclass
class Context:
    actors: Actors
    ids: dict[str, str]


Body = Callable[[Context], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    expect: dict[str, int]
    json: Body | None = None
    form: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def everyone(status: int, anonymous: int = 401) -> dict[str, int]:
    return {"anonymous": anonymous} | dict.fromkeys(ROLES[1:], status)


def only(allowed: dict[str, int], others: int = 403) -> dict[str, int]:
    return {"anonymous": 401} | dict.fromkeys(ROLES[1:], others) | allowed


IF_MATCH_1 = {"If-Match": '"1"'}

MATRIX: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case(everyone(200, anonymous=200)),
    ("GET", "/readyz"): Case(everyone(200, anonymous=200)),
    # Off in the tests' settings; no user's credential opens it (tests/core/test_metrics.py).
    ("GET", "/metrics"): Case(everyone(404, anonymous=404)),
    ("POST", "/v1/auth/token"): Case(
        everyone(401, anonymous=401), form={"username": "nobody@example.org", "password": "x"}
    ),
    ("POST", "/v1/users"): Case(
        only({"state_admin": 201}),
        json=lambda c: {"email": f"{unique('u')}@example.org", "role": "state_reviewer"},
    ),
    ("GET", "/v1/users"): Case(only({"state_admin": 200})),
    ("GET", "/v1/users/me"): Case(everyone(200)),
    ("GET", "/v1/users/{user_id}"): Case(only({"state_admin": 200})),
    ("PATCH", "/v1/users/{user_id}"): Case(
        only({"state_admin": 200}), json=lambda c: {"is_active": True}, headers=IF_MATCH_1
    ),
    ("POST", "/v1/api-keys"): Case(everyone(201), json=lambda c: {"name": "matrix"}),
    ("GET", "/v1/api-keys"): Case(everyone(200)),
    ("DELETE", "/v1/api-keys/{key_id}"): Case(
        only({"state_admin": 204, "partner": 204}, others=404)
    ),
    ("GET", "/v1/need-domains"): Case(everyone(200)),
    ("POST", "/v1/need-domains"): Case(
        only({"state_admin": 201}),
        json=lambda c: {"code": unique("nd").replace("-", "_"), "name": "New"},
    ),
    ("GET", "/v1/need-domains/{code}"): Case(everyone(200)),
    ("POST", "/v1/partners"): Case(
        only({"state_admin": 201, "state_reviewer": 201}), json=lambda c: partner_payload()
    ),
    ("GET", "/v1/partners"): Case(everyone(200)),
    ("GET", "/v1/partners/{partner_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}, others=404)
    ),
    ("PATCH", "/v1/partners/{partner_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}),
        json=lambda c: {"description": "Changed"},
        headers=IF_MATCH_1,
    ),
    ("POST", "/v1/partners/{partner_id}/status"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}),
        json=lambda c: {"status": "submitted"},
    ),
    ("POST", "/v1/districts"): Case(only({"state_admin": 201}), json=lambda c: district_payload()),
    ("GET", "/v1/districts"): Case(everyone(200)),
    ("GET", "/v1/districts/{district_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200}, others=404)
    ),
    ("PATCH", "/v1/districts/{district_id}"): Case(
        only({"state_admin": 200}), json=lambda c: {"enrollment": 4321}, headers=IF_MATCH_1
    ),
    ("GET", "/v1/audit-events"): Case(only({"state_admin": 200, "state_reviewer": 200})),
    ("GET", "/v1/rubrics"): Case(everyone(200)),
    ("POST", "/v1/rubrics"): Case(only({"state_admin": 201}), json=lambda c: rubric_payload()),
    ("GET", "/v1/rubrics/{rubric_id}"): Case(everyone(200)),
    ("POST", "/v1/partners/{partner_id}/reviews"): Case(
        only({"state_admin": 201, "state_reviewer": 201}), json=lambda c: {}
    ),
    ("GET", "/v1/partners/{partner_id}/reviews"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200})
    ),
    ("GET", "/v1/reviews/{review_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200})
    ),
    ("GET", "/v1/reviews/{review_id}/scores"): Case(
        only({"state_admin": 200, "state_reviewer": 200})
    ),
    ("PUT", "/v1/reviews/{review_id}/scores"): Case(
        only({"state_admin": 200, "state_reviewer": 200}),
        json=lambda c: scores_payload(),
        headers=IF_MATCH_1,
    ),
    ("POST", "/v1/reviews/{review_id}/decision"): Case(
        only({"state_admin": 201, "state_reviewer": 201}),
        json=lambda c: {"decision": "defer", "rationale": "More evidence first."},
    ),
    ("GET", "/v1/partners/{partner_id}/designations"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}, others=404)
    ),
    ("GET", "/v1/directory"): Case(everyone(200, anonymous=200)),
    ("POST", "/v1/partners/{partner_id}/evidence"): Case(
        only({"state_admin": 201, "state_reviewer": 201, "partner": 201}),
        json=lambda c: evidence_payload(),
    ),
    ("GET", "/v1/partners/{partner_id}/evidence"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}, others=404)
    ),
    ("POST", "/v1/evidence/classify"): Case(everyone(200), json=lambda c: evidence_payload()),
    ("GET", "/v1/evidence/{evidence_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}, others=404)
    ),
    ("PATCH", "/v1/evidence/{evidence_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "partner": 200}),
        json=lambda c: {"title": "Changed"},
        headers=IF_MATCH_1,
    ),
    ("POST", "/v1/evidence/{evidence_id}/decision"): Case(
        only({"state_admin": 200, "state_reviewer": 200}),
        json=lambda c: {"decision": "accept"},
        headers=IF_MATCH_1,
    ),
    # Allowed callers get past authorisation to the body check: no PDF sent, so 415.
    ("PUT", "/v1/evidence/{evidence_id}/document"): Case(
        only({"state_admin": 415, "state_reviewer": 415, "partner": 415}), headers=IF_MATCH_1
    ),
    # No document is attached, so 404 even for those who may see the record.
    ("GET", "/v1/evidence/{evidence_id}/document"): Case(everyone(404)),
    ("POST", "/v1/districts/{district_id}/needs"): Case(
        only({"state_admin": 201, "state_reviewer": 201, "district": 201}),
        json=lambda c: needs_payload(),
    ),
    ("GET", "/v1/districts/{district_id}/needs"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200})
    ),
    ("GET", "/v1/needs/{needs_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200})
    ),
    ("PATCH", "/v1/needs/{needs_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200}),
        json=lambda c: {"title": "Changed"},
        headers=IF_MATCH_1,
    ),
    ("POST", "/v1/engagements"): Case(
        only({"state_admin": 201, "state_reviewer": 201, "district": 201}),
        json=lambda c: engagement_payload(c.ids["partner_id"], c.ids["district_id"]),
    ),
    ("GET", "/v1/engagements"): Case(everyone(200)),
    ("GET", "/v1/engagements/{engagement_id}"): Case(everyone(200)),
    ("PATCH", "/v1/engagements/{engagement_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200}),
        json=lambda c: {"status": "active"},
        headers=IF_MATCH_1,
    ),
    ("POST", "/v1/engagements/{engagement_id}/check-ins"): Case(
        only({"state_admin": 201, "state_reviewer": 201, "district": 201}),
        json=lambda c: check_in_payload(),
    ),
    ("GET", "/v1/engagements/{engagement_id}/check-ins"): Case(everyone(200)),
    ("GET", "/v1/engagements/{engagement_id}/check-ins/{check_in_id}"): Case(everyone(200)),
    ("POST", "/v1/matches"): Case(
        only({"state_admin": 201, "state_reviewer": 201, "district": 201}),
        json=lambda c: {"needs_id": c.ids["needs_id"]},
    ),
    ("GET", "/v1/matches"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200})
    ),
    ("GET", "/v1/matches/{match_id}"): Case(
        only({"state_admin": 200, "state_reviewer": 200, "district": 200})
    ),
}


def spec_routes() -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in SPEC["paths"].items()
        for method in operations
    }


def test_every_route_has_an_entry() -> None:
    assert spec_routes() - MATRIX.keys() == set(), "add the new routes to MATRIX"
    assert MATRIX.keys() - spec_routes() == set(), "MATRIX names routes the API no longer has"


async def _context(app: FastAPI, client: httpx.AsyncClient, actors: Actors, path: str) -> Context:
    second_key = await client.post(
        "/v1/api-keys", json={"name": "second"}, headers=actors.partner.headers
    )
    rubrics = await client.get("/v1/rubrics", headers=actors.admin.headers)
    ids = {
        "partner_id": actors.partner_record["id"],
        "district_id": actors.district_record["id"],
        "user_id": str(actors.partner.user_id),
        "key_id": second_key.json()["id"],
        "code": "staffing",
        "rubric_id": rubrics.json()["items"][0]["id"],
    }
    if "/reviews" in path:
        ids["review_id"] = await review_in_progress(
            client, actors, actors.partner_record["id"], open_review="{review_id}" in path
        )
    if "{evidence_id}" in path:
        evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
        ids["evidence_id"] = evidence["id"]
    if "/needs" in path or "/matches" in path:
        profile = await create_needs(client, actors.admin, actors.district_record["id"])
        ids["needs_id"] = profile["id"]
    if "/engagements" in path:
        await designate(app, actors.partner_record["id"])
        # Planned, so that PATCH may start it; a check-in needs one that has started.
        status = "active" if "/check-ins" in path else "planned"
        engagement = await client.post(
            "/v1/engagements",
            json=engagement_payload(
                actors.partner_record["id"], actors.district_record["id"], status=status
            ),
            headers=actors.admin.headers,
        )
        ids["engagement_id"] = engagement.json()["id"]
    if "{check_in_id}" in path:
        check_in = await client.post(
            f"/v1/engagements/{ids['engagement_id']}/check-ins",
            json=check_in_payload(),
            headers=actors.admin.headers,
        )
        ids["check_in_id"] = check_in.json()["id"]
    if "{match_id}" in path:
        match = await client.post(
            "/v1/matches", json={"needs_id": ids["needs_id"]}, headers=actors.admin.headers
        )
        ids["match_id"] = match.json()["id"]
    return Context(actors=actors, ids=ids)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_route_answers_role_as_expected(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, method: str, path: str, role: str
) -> None:
    case = MATRIX[(method, path)]
    context = await _context(app, client, actors, path)
    url = path.format(
        **{name: value for name, value in context.ids.items() if f"{{{name}}}" in path}
    )
    headers = dict(case.headers)
    if role != "anonymous":
        headers |= actors.by_role()[role].headers
    response = await client.request(
        method,
        url,
        headers=headers,
        json=case.json(context) if case.json else None,
        data=case.form,
    )
    assert response.status_code == case.expect[role], response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
