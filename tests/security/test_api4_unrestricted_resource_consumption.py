"""API4:2023 Unrestricted Resource Consumption: every limit, and how it is answered.

Bodies over the size limit (1 MiB; 20 MiB for study documents), pages over 200 items, text,
lists and numbers past their bounds, forms with too many fields, JSON nested to exhaust a
parser, and sign-in guesses past the throttle, including guesses sent all at once. Each is
refused with the right 4xx as application/problem+json, and never reaches a 500.
"""

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from tests.factories import (
    Actors,
    client_at,
    create_needs,
    designate,
    district_payload,
    engagement_payload,
    evidence_payload,
    fresh_address,
    make_actor,
    needs_payload,
    partner_payload,
    review_in_progress,
    rubric_payload,
    scores_payload,
    submit_evidence,
    unique,
)
from tests.security.helpers import SPEC, assert_problem, fill, spec_operations

WRITES = [
    (method, path) for method, path in spec_operations() if method in {"POST", "PUT", "PATCH"}
]
ANY_IDS = dict.fromkeys(
    (
        "partner_id",
        "evidence_id",
        "review_id",
        "district_id",
        "needs_id",
        "engagement_id",
        "check_in_id",
        "user_id",
    ),
    str(uuid.uuid4()),
)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
async def test_every_write_refuses_an_oversized_body_before_anything_else(
    client: httpx.AsyncClient, settings: Settings, method: str, path: str
) -> None:
    """Anonymous, unknown ids, no If-Match: the size is checked first, so it answers 413."""
    limit = settings.max_upload_bytes if path.endswith("/document") else settings.max_request_bytes
    url = fill(path, ANY_IDS)
    if path.endswith("/document"):
        # Declared, not sent: 20 MiB need not cross the wire for the header to be refused.
        response = await client.request(
            method, url, content=b"%PDF-", headers={"Content-Length": str(limit + 1)}
        )
    else:
        body = json.dumps({"padding": "x" * limit}).encode()
        response = await client.request(
            method, url, content=body, headers={"Content-Type": "application/json"}
        )
    problem = assert_problem(response, 413)
    assert str(limit) in problem["detail"]


@pytest.fixture
async def ids(app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> dict[str, str]:
    evidence = await submit_evidence(client, actors.partner, actors.partner_record["id"])
    review_id = await review_in_progress(client, actors, actors.partner_record["id"])
    needs = await create_needs(client, actors.admin, actors.district_record["id"])
    rubrics = await client.get("/v1/rubrics", headers=actors.admin.headers)
    await designate(app, actors.partner_record["id"])
    engagement = await client.post(
        "/v1/engagements",
        json=engagement_payload(actors.partner_record["id"], actors.district_record["id"]),
        headers=actors.admin.headers,
    )
    assert engagement.status_code == 201, engagement.text
    return {
        "partner_id": actors.partner_record["id"],
        "district_id": actors.district_record["id"],
        "evidence_id": evidence["id"],
        "review_id": review_id,
        "needs_id": needs["id"],
        "rubric_id": rubrics.json()["items"][0]["id"],
        "engagement_id": engagement.json()["id"],
    }


async def test_every_list_caps_its_page_size(
    client: httpx.AsyncClient, actors: Actors, ids: dict[str, str]
) -> None:
    paged = [
        path
        for path, operations in SPEC["paths"].items()
        if any(
            param["name"] == "limit" for param in operations.get("get", {}).get("parameters", [])
        )
    ]
    assert len(paged) >= 12, paged
    for path in paged:
        url = fill(path, ids)
        for limit in ("201", "0", "-1", "100000000000000000000", "1e3"):
            response = await client.get(url, params={"limit": limit}, headers=actors.admin.headers)
            problem = assert_problem(response, 422)
            assert problem["errors"][0]["loc"] == ["query", "limit"], (url, limit)
        largest = await client.get(url, params={"limit": "200"}, headers=actors.admin.headers)
        assert largest.status_code == 200, (url, largest.text)
        assert len(largest.json()["items"]) <= 200


def _too_much(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any], list[str | int]]]:
    """(path, body, loc): one bound passed per body; the rest of the body is valid."""
    finding = evidence_payload()["findings"][0]
    criterion = {"code": "c", "name": "C", "weight": 1}
    evidence = fill("/v1/partners/{partner_id}/evidence", ids)
    needs = fill("/v1/districts/{district_id}/needs", ids)
    decision = fill("/v1/reviews/{review_id}/decision", ids)
    long_text, long_name = "x" * 10_001, "n" * 201
    return [
        ("/v1/partners", partner_payload(name=long_name), ["body", "name"]),
        ("/v1/partners", partner_payload(description=long_text), ["body", "description"]),
        ("/v1/partners", partner_payload(notes=long_text), ["body", "notes"]),
        (
            "/v1/partners",
            partner_payload(website="https://e.org/" + "p" * 500),
            ["body", "website"],
        ),
        (
            "/v1/partners",
            partner_payload(need_domains=[f"d{i}" for i in range(21)]),
            ["body", "need_domains"],
        ),
        ("/v1/partners", partner_payload(capacity=100_001), ["body", "capacity"]),
        (
            "/v1/partners",
            partner_payload(cost_per_school_year={"min": 0, "max": 100_000_001}),
            ["body", "cost_per_school_year", "max"],
        ),
        (evidence, evidence_payload(findings=[finding] * 201), ["body", "findings"]),
        (evidence, evidence_payload(citation=long_text), ["body", "citation"]),
        (evidence, evidence_payload(sample_size=100_000_001), ["body", "sample_size"]),
        (evidence, evidence_payload(site_count=1_000_001), ["body", "site_count"]),
        (
            evidence,
            evidence_payload(student_groups=[f"g{i}" for i in range(21)]),
            ["body", "student_groups"],
        ),
        (
            evidence,
            evidence_payload(findings=[finding | {"effect_size": 100.5}]),
            ["body", "findings", 0, "effect_size"],
        ),
        (
            evidence,
            evidence_payload(findings=[finding | {"outcome": long_name}]),
            ["body", "findings", 0, "outcome"],
        ),
        (
            needs,
            needs_payload(needs=[{"need_domain": f"d{i}", "priority": 1} for i in range(21)]),
            ["body", "needs"],
        ),
        (
            needs,
            needs_payload(budget_per_school_year=100_000_001),
            ["body", "budget_per_school_year"],
        ),
        (
            needs,
            needs_payload(needs=[{"need_domain": "staffing", "priority": 6}]),
            ["body", "needs", 0, "priority"],
        ),
        ("/v1/rubrics", rubric_payload(criteria=[criterion] * 51), ["body", "criteria"]),
        (
            "/v1/rubrics",
            rubric_payload(criteria=[criterion | {"weight": 101}]),
            ["body", "criteria", 0, "weight"],
        ),
        ("/v1/rubrics", rubric_payload(scale={"min": 0, "max": 101}), ["body", "scale", "max"]),
        (
            decision,
            {"decision": "approve", "rationale": "Good.", "term_months": 121},
            ["body", "term_months"],
        ),
        (
            decision,
            {"decision": "approve_with_conditions", "rationale": "Ok.", "conditions": ["c"] * 21},
            ["body", "conditions"],
        ),
        (
            decision,
            {"decision": "approve_with_conditions", "rationale": "Ok.", "conditions": ["c" * 2001]},
            ["body", "conditions", 0],
        ),
        ("/v1/districts", district_payload(enrollment=2_000_001), ["body", "enrollment"]),
        ("/v1/districts", district_payload(name=long_name), ["body", "name"]),
        ("/v1/api-keys", {"name": long_name}, ["body", "name"]),
        (
            "/v1/users",
            {
                "email": f"{unique('u')}@example.org",
                "role": "state_reviewer",
                "password": "p" * 257,
            },
            ["body", "password"],
        ),
        ("/v1/need-domains", {"code": "c" * 64, "name": "Too long"}, ["body", "code"]),
        ("/v1/matches", {"needs_id": ids["needs_id"], "limit": 51}, ["body", "limit"]),
        ("/v1/evidence/classify", evidence_payload(findings=[finding] * 201), ["body", "findings"]),
    ]


async def test_text_lists_and_numbers_have_bounds(
    client: httpx.AsyncClient, actors: Actors, ids: dict[str, str]
) -> None:
    unbounded = []
    for path, body, loc in _too_much(ids):
        response = await client.post(path, json=body, headers=actors.admin.headers)
        if response.status_code != 422:
            unbounded.append(f"{path} {loc}: {response.status_code}")
            continue
        problem = assert_problem(response, 422)
        assert loc in [issue["loc"] for issue in problem["errors"]], (path, loc, problem)
    scores = scores_payload()
    scores["scores"][0]["score"] = 101
    response = await client.put(
        fill("/v1/reviews/{review_id}/scores", ids), json=scores, headers=actors.admin.headers
    )
    assert ["body", "scores", 0, "score"] in [
        issue["loc"] for issue in assert_problem(response, 422)["errors"]
    ]
    assert unbounded == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/partners", {"q": "q" * 201}),
        ("/v1/directory", {"q": "q" * 201}),
        ("/v1/directory", {"region": "r" * 64}),
        ("/v1/rubrics", {"name": "n" * 201}),
        ("/v1/audit-events", {"action": "a" * 64}),
        ("/v1/audit-events", {"entity_type": "e" * 64}),
        ("/v1/need-domains", {"cursor": "c" * 513}),
        ("/v1/directory", {"as_of": "3000-01-01"}),
    ],
)
async def test_query_parameters_have_bounds(
    client: httpx.AsyncClient, actors: Actors, path: str, params: dict[str, str]
) -> None:
    response = await client.get(path, params=params, headers=actors.admin.headers)
    assert_problem(response, 422)


async def test_a_form_with_too_many_fields_is_refused(client: httpx.AsyncClient) -> None:
    fields = "&".join(f"f{i}=1" for i in range(1001)) + "&username=a@example.org&password=x"
    response = await client.post(
        "/v1/auth/token",
        content=fields,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 400)
    many_files = {f"f{i}": (f"{i}.txt", b"x", "text/plain") for i in range(1001)}
    response = await client.post("/v1/auth/token", files=many_files)
    assert_problem(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"name": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}",
        '{"name": "' + "\\ud800" * 50_000 + '"}',
        '{"capacity": 1' + "0" * 5_000 + "}",
    ],
    ids=["deep arrays", "deep objects", "lone surrogates", "huge integer literal"],
)
async def test_hostile_json_is_a_client_error(
    client: httpx.AsyncClient, actors: Actors, body: str
) -> None:
    response = await client.post(
        "/v1/partners",
        content=body,
        headers=actors.admin.headers | {"Content-Type": "application/json"},
    )
    assert response.status_code in {400, 422}, response.text
    assert_problem(response, response.status_code)


async def _guess(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": email, "password": password})


async def test_guesses_sent_at_once_do_not_get_past_the_account_throttle(
    strict_app: FastAPI,
) -> None:
    """Parallel guesses must queue on the throttle, not all read the count before any failed."""
    password = "correct horse battery staple"
    actor = await make_actor(strict_app, "state_reviewer", password=password)
    limit = strict_app.state.settings.sign_in_max_failures_per_account
    async with client_at(strict_app, fresh_address()) as client:
        email = (await client.get("/v1/users/me", headers=actor.headers)).json()["email"]
        answers = await asyncio.gather(
            *(_guess(client, email, f"guess {n}") for n in range(3 * limit))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] * limit + [429] * (2 * limit), statuses
        for answer in answers:
            assert_problem(answer, answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) > 0
        assert_problem(await _guess(client, email, password), 429)


async def test_guesses_sent_at_once_do_not_get_past_the_client_throttle(
    strict_app: FastAPI,
) -> None:
    limit = strict_app.state.settings.sign_in_max_failures_per_client
    async with client_at(strict_app, fresh_address()) as client:
        answers = await asyncio.gather(
            *(
                _guess(client, f"{unique('spray')}@example.org", "Winter2026!")
                for _ in range(3 * limit)
            )
        )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * limit + [429] * (2 * limit), statuses
