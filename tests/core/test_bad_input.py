"""Bad input of every kind answers 4xx problem+json, never a 500 and never internals."""

import json
from typing import Any

import httpx
import pytest

from app.core.pagination import MAX_CURSOR_LENGTH
from tests.factories import Actor, create_partner, partner_payload, unique

HUGE = 10**30


def _bodies() -> list[tuple[str, Any, int]]:
    good = partner_payload()
    return [
        ("wrong type for name", good | {"name": 123}, 422),
        ("wrong type for capacity", good | {"capacity": "many"}, 422),
        ("list given a string", good | {"regions": "north"}, 422),
        ("unknown enum value", good | {"grade_bands": ["college"]}, 422),
        ("unknown locale", good | {"locales": ["moon"]}, 422),
        ("unknown need domain", good | {"need_domains": ["astrology"]}, 422),
        ("no need domain", good | {"need_domains": []}, 422),
        ("huge integer", good | {"capacity": HUGE}, 422),
        ("negative capacity", good | {"capacity": -1}, 422),
        ("huge cost", good | {"cost_per_school_year": {"min": 0, "max": HUGE}}, 422),
        ("min above max", good | {"cost_per_school_year": {"min": 10, "max": 5}}, 422),
        ("NUL byte", good | {"name": "Bad\x00Name"}, 422),
        ("control character", good | {"description": "bell\x07"}, 422),
        ("C1 control character", good | {"description": "csi\x9b"}, 422),
        ("right-to-left override", good | {"name": "\u202elive"}, 422),
        ("empty name", good | {"name": "   "}, 422),
        ("byte order marks for a name", good | {"name": "\ufeff \ufeff"}, 422),
        ("overlong name", good | {"name": "n" * 201}, 422),
        ("overlong name as sent, trimmed to fit", good | {"name": " " + "n" * 200}, 422),
        ("too many regions", good | {"regions": [f"r{i}" for i in range(61)]}, 422),
        ("unknown field", good | {"evil": True}, 422),
        ("status on create", good | {"status": "approved"}, 422),
        ("not https website", good | {"website": "javascript:alert(1)"}, 422),
        ("NUL in website", good | {"website": "https://a\x00b.example.org"}, 422),
        ("array body", [good], 422),
        ("null body", None, 422),
        ("missing fields", {}, 422),
        ("float capacity", good | {"capacity": 1.5}, 422),
        ("boolean capacity", good | {"capacity": True}, 422),
    ]


@pytest.mark.parametrize(("case", "body", "expected"), _bodies(), ids=[c[0] for c in _bodies()])
async def test_bad_partner_bodies_are_refused(
    client: httpx.AsyncClient, admin: Actor, case: str, body: Any, expected: int
) -> None:
    response = await client.post(
        "/v1/partners",
        content=json.dumps(body),
        headers=admin.headers | {"Content-Type": "application/json"},
    )
    assert response.status_code == expected, (case, response.text)
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["status"] == expected
    assert {"type", "title", "status"} <= problem.keys()
    for issue in problem.get("errors", []):
        assert set(issue) == {"loc", "msg", "type"}
    assert "Traceback" not in response.text
    assert "sqlalchemy" not in response.text.lower()


UNPARSEABLE_BODIES = [
    (b"{not json", "application/json", 400, "malformed-body"),
    (b"\xff\xfe\x00garbage", "application/json", 400, "malformed-body"),
    (b'{"name": "\xe9t\xe9"}', "application/json", 400, "malformed-body"),  # Latin-1
    (b'{"name": "x"', "application/json", 400, "malformed-body"),
    (b"name=x", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
    (b'{"name": "x"}', "text/plain", 415, "unsupported-media-type"),
    (b'{"name": "x"}', "application/jsonx", 415, "unsupported-media-type"),
    (b'{"name": "x"}', None, 415, "unsupported-media-type"),
    (b"", "application/json", 422, "validation-error"),
    (b"", "text/plain", 422, "validation-error"),
]


@pytest.mark.parametrize(("content", "content_type", "expected", "slug"), UNPARSEABLE_BODIES)
async def test_unparseable_bodies_are_client_errors(
    client: httpx.AsyncClient,
    admin: Actor,
    content: bytes,
    content_type: str | None,
    expected: int,
    slug: str,
) -> None:
    response = await client.post(
        "/v1/partners",
        content=content,
        headers=admin.headers | ({"Content-Type": content_type} if content_type else {}),
    )
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(f"/{slug}")


@pytest.mark.parametrize(("content", "content_type"), [case[:2] for case in UNPARSEABLE_BODIES])
async def test_a_change_without_if_match_is_428_whatever_its_body(
    client: httpx.AsyncClient, admin: Actor, content: bytes, content_type: str | None
) -> None:
    """As the README says: the missing precondition first, even when the body is unreadable."""
    partner = await create_partner(client, admin)
    response = await client.patch(
        f"/v1/partners/{partner['id']}",
        content=content,
        headers=admin.headers | ({"Content-Type": content_type} if content_type else {}),
    )
    assert response.status_code == 428, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_json_body_of_a_json_subtype_is_read(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    response = await client.post(
        "/v1/partners",
        content=json.dumps(partner_payload()),
        headers=admin.headers | {"Content-Type": "application/merge-patch+json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


async def test_oversize_bodies_get_413(client: httpx.AsyncClient, admin: Actor) -> None:
    body = json.dumps(partner_payload(description="x" * 2_000_000))
    response = await client.post(
        "/v1/partners", content=body, headers=admin.headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_body_streamed_past_the_limit_gets_413(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    async def chunks():  # no Content-Length: the middleware has to count
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post(
        "/v1/partners",
        content=chunks(),
        headers=admin.headers | {"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    # The same problem as a body refused by its Content-Length, so clients handle one type.
    declared = await client.post(
        "/v1/partners",
        content=b"x" * 40 * 65536,
        headers=admin.headers | {"Content-Type": "application/json"},
    )
    assert response.json() == declared.json()
    assert response.json()["type"].endswith("/payload-too-large")


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"cursor": "W10"},
        {"cursor": "WyJ4Il0"},
        {"cursor": "x" * (MAX_CURSOR_LENGTH + 1)},
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "ten"},
        {"limit": str(HUGE)},
        {"min_evidence_tier": "5"},
        {"min_evidence_tier": "0"},
        {"grade_band": "college"},
        {"status": "famous"},
        {"region": "North Region!"},
        {"need_domain": "Bad Code"},
        {"q": "x" * 201},
        {"q": "nul\x00byte"},
    ],
)
async def test_bad_query_parameters_are_refused(
    client: httpx.AsyncClient, admin: Actor, params: dict[str, str]
) -> None:
    response = await client.get("/v1/partners", params=params, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/partners", ["name", "not-a-uuid"]),
        ("/v1/directory", ["\ud800", "00000000-0000-0000-0000-000000000000"]),
        ("/v1/directory", [1, "00000000-0000-0000-0000-000000000000"]),
        ("/v1/rubrics", ["a", "9" * 30, "00000000-0000-0000-0000-000000000000"]),
        # Valid times that UTC carries past the calendar's ends.
        ("/v1/matches", ["9999-12-31T23:59:59-01:00", "00000000-0000-0000-0000-000000000000"]),
        ("/v1/matches", ["0001-01-01T00:00:00+05:00", "00000000-0000-0000-0000-000000000000"]),
    ],
)
async def test_a_forged_cursor_is_refused(
    client: httpx.AsyncClient, admin: Actor, path: str, key: list[object]
) -> None:
    import base64

    raw = json.dumps(key).encode()  # a lone surrogate stays escaped, as an attacker sends it
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await client.get(path, params={"cursor": forged}, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "cursor_invalid"


@pytest.mark.parametrize("path", ["/v1/directory", "/v1/partners", "/v1/audit-events"])
async def test_a_cursor_nested_past_the_parsers_depth_is_refused(
    client: httpx.AsyncClient, admin: Actor, path: str
) -> None:
    import base64

    forged = base64.urlsafe_b64encode(b"[" * 1500).decode().rstrip("=")
    assert len(forged) <= 2048
    response = await client.get(path, params={"cursor": forged}, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "cursor_invalid"


async def test_a_page_ending_on_the_longest_name_leads_to_the_next(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    prefix = unique("\U0001f3eb")
    names = [prefix + suffix * (200 - len(prefix)) for suffix in ("\U0001f4da", "\U0001f4dd")]
    for name in names:
        await create_partner(client, admin, name=name)
    first = await client.get(
        "/v1/partners", params={"q": prefix, "limit": 1}, headers=admin.headers
    )
    assert first.status_code == 200, first.text
    assert [item["name"] for item in first.json()["items"]] == names[:1]
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/v1/partners", params={"q": prefix, "limit": 1, "cursor": cursor}, headers=admin.headers
    )
    assert second.status_code == 200, second.text
    assert [item["name"] for item in second.json()["items"]] == names[1:]


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/v1/partners/not-a-uuid", 422),
        ("GET", "/v1/partners/00000000-0000-0000-0000-000000000000", 404),
        ("GET", "/v1/nowhere", 404),
        ("DELETE", "/v1/partners", 405),
        ("PUT", "/v1/partners/00000000-0000-0000-0000-000000000000", 405),
    ],
)
async def test_unknown_routes_methods_and_ids(
    client: httpx.AsyncClient, admin: Actor, method: str, path: str, expected: int
) -> None:
    response = await client.request(method, path, headers=admin.headers)
    assert response.status_code == expected
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == expected
    # The four members the contract names, routing's own refusals included.
    assert {"type", "title", "status", "detail"} <= set(problem)
    assert problem["detail"] != problem["title"]


@pytest.mark.parametrize("if_match", ['"abc"', 'W/"999"', 'W/"1"', "", "1", "*"])
async def test_if_match_values_that_do_not_match_get_412(
    client: httpx.AsyncClient, admin: Actor, if_match: str
) -> None:
    created = await client.post("/v1/partners", json=partner_payload(), headers=admin.headers)
    response = await client.patch(
        f"/v1/partners/{created.json()['id']}",
        json={"capacity": 1},
        headers=admin.headers | {"If-Match": if_match},
    )
    assert response.status_code == 412


async def test_if_match_on_several_lines_is_one_list(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    created = await client.post("/v1/partners", json=partner_payload(), headers=admin.headers)
    url = f"/v1/partners/{created.json()['id']}"
    authorization = ("Authorization", admin.headers["Authorization"])

    async def patch(*tags: str) -> httpx.Response:
        lines = [authorization, *(("If-Match", tag) for tag in tags)]
        return await client.patch(url, json={"capacity": 7}, headers=lines)

    assert (await patch('"9"', '"8"')).status_code == 412
    changed = await patch('"9"', '"1"')
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'


@pytest.mark.parametrize("key", ["", "x" * 256, "bad key with spaces"])
async def test_bad_idempotency_keys_are_refused(
    client: httpx.AsyncClient, admin: Actor, key: str
) -> None:
    response = await client.post(
        "/v1/partners", json=partner_payload(), headers=admin.headers | {"Idempotency-Key": key}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token"])
async def test_malformed_authorization_headers_get_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/v1/partners", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
