"""API5:2023 Broken Function Level Authorization.

Who may call each documented route is tests/auth/test_authorization_matrix.py (every route in
the spec, every role). This module covers the ways around that table: methods a route does not
document, method-override headers and parameters, spellings of a path that a router or a proxy
might treat as the same route, and claims of a role or an identity sent with the request
instead of carried by the credential.
"""

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import Actors, district_payload, unique
from tests.security.helpers import SPEC, assert_problem, fill

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PURGE")
OVERRIDES = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")


def _ids(actors: Actors) -> dict[str, str]:
    some = actors.partner_record["id"]
    return {
        "partner_id": some,
        "district_id": actors.district_record["id"],
        "user_id": str(actors.admin.user_id),
        "code": "staffing",
    } | dict.fromkeys(
        (
            "evidence_id",
            "review_id",
            "needs_id",
            "engagement_id",
            "check_in_id",
            "match_id",
            "key_id",
            "rubric_id",
        ),
        some,
    )


def _callers(actors: Actors) -> dict[str, dict[str, str]]:
    return {"anonymous": {}, "district": actors.district.headers, "admin": actors.admin.headers}


async def test_undocumented_methods_are_405_for_every_caller(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    callers = _callers(actors)
    wrong = []
    for path, operations in SPEC["paths"].items():
        # HEAD is served wherever GET is (`app.core.middleware.HeadAsGet`), undocumented.
        allowed = {method.upper() for method in operations}
        allowed |= {"HEAD"} if "GET" in allowed else set()
        url = fill(path, _ids(actors))
        for method in sorted(set(METHODS) - allowed):
            for caller, headers in callers.items():
                response = await client.request(method, url, headers=headers)
                if response.status_code != 405:
                    wrong.append(f"{caller} {method} {path}: {response.status_code}")
                    continue
                assert set(response.headers["Allow"].split(", ")) == allowed, (method, path)
                if method != "HEAD":
                    assert_problem(response, 405)
    assert wrong == []


async def test_head_answers_as_get_without_a_body_for_every_caller(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    callers = _callers(actors)
    different = []
    for path, operations in SPEC["paths"].items():
        if "get" not in operations:
            continue
        url = fill(path, _ids(actors))
        for caller, headers in callers.items():
            get = await client.get(url, headers=headers)
            head = await client.head(url, headers=headers)
            # Each response carries its own request id; everything else is the GET's.
            get_headers = {k: v for k, v in get.headers.items() if k != "x-request-id"}
            head_headers = {k: v for k, v in head.headers.items() if k != "x-request-id"}
            if (head.status_code, head_headers) != (get.status_code, get_headers):
                different.append(f"{caller} HEAD {path}: {head.status_code}, GET {get.status_code}")
            assert head.content == b"", (caller, path)
    assert different == []


@pytest.mark.parametrize("override", OVERRIDES)
async def test_method_override_headers_are_ignored(
    client: httpx.AsyncClient, actors: Actors, override: str
) -> None:
    own = f"/v1/partners/{actors.partner_record['id']}"
    before = (await client.get(own, headers=actors.admin.headers)).json()
    # A read dressed as a write stays a read...
    read = await client.get(
        own, headers=actors.admin.headers | {override: "PATCH", "If-Match": '"1"'}
    )
    assert read.status_code == 200
    # ...and a write a role may not make stays forbidden, whatever method it claims to be.
    for method, path in (("POST", "/v1/users"), ("POST", "/v1/districts"), ("POST", "/v1/rubrics")):
        response = await client.request(
            method, path, json={}, headers=actors.district.headers | {override: "GET"}
        )
        assert_problem(response, 403)
    deleted = await client.post(
        f"/v1/partners/{actors.partner_record['id']}/status",
        json={"status": "submitted"},
        headers=actors.district.headers | {override: "GET"},
    )
    assert_problem(deleted, 403)
    assert (await client.get(own, headers=actors.admin.headers)).json() == before


async def test_method_override_parameters_are_ignored(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    for params in ({"_method": "GET"}, {"method": "GET"}, {"_method": "DELETE"}):
        created = await client.post(
            "/v1/districts",
            params=params,
            json=district_payload(),
            headers=actors.district.headers,
        )
        assert_problem(created, 403)
    listed = await client.get("/v1/users", params={"_method": "POST"}, headers=actors.admin.headers)
    assert listed.status_code == 200


@pytest.mark.parametrize(
    "spelling",
    [
        "/v1/users/",
        "//v1/users",
        "/v1//users",
        "/V1/users",
        "/v1/Users",
        "/v1/users%2F",
        "/v1/%75sers",
        "/v1/users;role=state_admin",
        "/v1/users.json",
        "/v1/users%00",
        "/v1/users/..",
        "/v1/users/%2e%2e/audit-events",
        "/v1/partners/../users",
    ],
)
async def test_other_spellings_of_an_admin_route_reach_nothing(
    client: httpx.AsyncClient, actors: Actors, spelling: str
) -> None:
    for headers in ({}, actors.district.headers, actors.partner.headers):
        response = await client.get(httpx.URL(spelling), headers=headers)
        assert response.status_code in {401, 403, 404}, (spelling, response.status_code)
        assert_problem(response, response.status_code)
        assert "location" not in response.headers


@pytest.mark.parametrize(
    "claim",
    [
        {"X-Role": "state_admin"},
        {"X-User-Role": "state_admin"},
        {"X-User-Id": "{admin_id}"},
        {"X-Forwarded-User": "{admin_id}"},
        {"X-Original-URL": "/healthz", "X-Rewrite-URL": "/healthz"},
    ],
)
async def test_a_role_or_identity_sent_with_the_request_counts_for_nothing(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, claim: dict[str, str]
) -> None:
    headers = {name: value.format(admin_id=actors.admin.user_id) for name, value in claim.items()}
    query = {"role": "state_admin", "user_id": str(actors.admin.user_id), "as": "state_admin"}
    for path, body in (
        ("/v1/users", {"email": f"{unique('c')}@example.org", "role": "state_admin"}),
        ("/v1/need-domains", {"code": unique("nd").replace("-", "_"), "name": "Escalated"}),
    ):
        response = await client.post(
            path, params=query, json=body, headers=actors.district.headers | headers
        )
        assert_problem(response, 403)
        anonymous = await client.post(path, params=query, json=body, headers=headers)
        assert_problem(anonymous, 401)
    me = await client.get("/v1/users/me", headers=actors.partner.headers | headers)
    assert me.json()["role"] == "partner"
    assert me.json()["id"] == str(actors.partner.user_id)
