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

from tests.factories import Actors, district_payload, partner_payload, unique

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
    ("GET", "/v1/audit-events"): Case(only({"state_admin": 200, "state_reviewer": 200})),
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


async def _context(app: FastAPI, client: httpx.AsyncClient, actors: Actors) -> Context:
    second_key = await client.post(
        "/v1/api-keys", json={"name": "second"}, headers=actors.partner.headers
    )
    return Context(
        actors=actors,
        ids={
            "partner_id": actors.partner_record["id"],
            "district_id": actors.district_record["id"],
            "user_id": str(actors.partner.user_id),
            "key_id": second_key.json()["id"],
            "code": "staffing",
        },
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
async def test_route_answers_role_as_expected(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, method: str, path: str, role: str
) -> None:
    case = MATRIX[(method, path)]
    context = await _context(app, client, actors)
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
