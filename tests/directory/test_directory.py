"""The public directory: who is listed on which day, what it shows, and the CSV export."""

import csv
import io
from datetime import date, timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.core.base import utcnow
from app.directory.export import safe_cell
from tests.factories import Actors, create_partner, force_partner_state, unique

PUBLIC_FIELDS = {
    "id",
    "name",
    "description",
    "website",
    "need_domains",
    "grade_bands",
    "locales",
    "regions",
    "delivery_modes",
    "capacity",
    "cost_per_school_year",
    "contacts",
    "designation",
    "evidence_tiers",
}

# One contact for the state only, one for districts and the public.
CONTACTS = [
    {"name": "Private Person", "email": "private@partner.example.org"},
    {"name": "Public Person", "title": "Director", "phone": "555-0100", "private": False},
]


async def _designated(
    client: httpx.AsyncClient, app: FastAPI, actors: Actors, region: str, days: int, **fields
) -> dict:
    partner = await create_partner(
        client, actors.admin, regions=[region], notes="Private note.", contacts=CONTACTS
    )
    now = utcnow()
    state = {"status": "approved", "approved_at": now - timedelta(days=30)}
    await force_partner_state(
        app, partner["id"], **(state | {"expires_at": now + timedelta(days=days)} | fields)
    )
    return partner


async def _listed(client: httpx.AsyncClient, region: str, **params: str) -> list[dict]:
    response = await client.get("/v1/directory", params={"region": region, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_lists_active_designations_only_on_the_day_asked(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    region = unique("dir").lower()
    today = utcnow().date()
    long = await _designated(client, app, actors, region, 400)
    short = await _designated(client, app, actors, region, 10)
    lapsed = await _designated(client, app, actors, region, -1)
    await _designated(client, app, actors, region, 400, status="suspended")
    await _designated(client, app, actors, region, 400, status="withdrawn")
    await create_partner(client, actors.admin, regions=[region])

    assert {p["id"] for p in await _listed(client, region)} == {long["id"], short["id"]}
    in_five = (today + timedelta(days=5)).isoformat()
    assert {p["id"] for p in await _listed(client, region, as_of=in_five)} == {
        long["id"],
        short["id"],
    }
    in_twenty = (today + timedelta(days=20)).isoformat()
    assert {p["id"] for p in await _listed(client, region, as_of=in_twenty)} == {long["id"]}
    last_week = (today - timedelta(days=7)).isoformat()
    # The calendar applies to today's statuses: a lapsed term was running a week ago.
    assert {p["id"] for p in await _listed(client, region, as_of=last_week)} == {
        long["id"],
        short["id"],
        lapsed["id"],
    }
    before_any = (today - timedelta(days=60)).isoformat()
    assert await _listed(client, region, as_of=before_any) == []


async def test_shows_public_fields_only_and_filters_like_partners(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    region = unique("pub").lower()
    word = unique("kw")
    tiered = await _designated(
        client,
        app,
        actors,
        region,
        100,
        evidence_tiers={"staffing": 2},
        status_reason="Internal remark.",
    )
    await _designated(client, app, actors, region, 100, description=f"With {word}.")
    [entry] = await _listed(client, region, min_evidence_tier="2")
    assert set(entry) == PUBLIC_FIELDS
    assert entry["id"] == tiered["id"]
    assert entry["evidence_tiers"] == {"staffing": 2}
    assert [contact["name"] for contact in entry["contacts"]] == ["Public Person"]
    response = await client.get("/v1/directory", params={"region": region})
    assert "Private note." not in response.text
    assert "Private Person" not in response.text
    assert "Internal remark." not in response.text
    assert len(await _listed(client, region, q=word)) == 1
    assert len(await _listed(client, region, need_domain="staffing")) == 2
    assert await _listed(client, region, grade_band="high") == []
    assert await _listed(client, region, locale="rural") == []


async def test_pages_with_a_cursor(client: httpx.AsyncClient, actors: Actors, app: FastAPI) -> None:
    region = unique("page").lower()
    for _ in range(3):
        await _designated(client, app, actors, region, 100)
    first = await client.get("/v1/directory", params={"region": region, "limit": 2})
    assert len(first.json()["items"]) == 2
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/v1/directory", params={"region": region, "limit": 2, "cursor": cursor}
    )
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"as_of": "not-a-date"},
        {"as_of": "9999-12-31"},
        {"as_of": "2026-09-01T00:00:00"},
        {"limit": "0"},
        {"cursor": "x"},
    ],
)
async def test_bad_queries_are_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/v1/directory", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Plain", "Plain"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cell(value: object, safe: str) -> None:
    assert safe_cell(value) == safe


@pytest.mark.parametrize(
    ("accept", "csv_expected"),
    [
        ("text/csv", True),
        ("text/csv;q=0.9, application/json;q=0.1", True),
        ("application/json, text/csv", True),
        ("TEXT/CSV; charset=utf-8", True),
        ("text/csv;q=0", False),
        ("application/json, text/csv;q=0.1", False),
        ("*/*, text/csv;q=0.5", False),
        ("text/csv;q=nonsense", False),
        ("application/json", False),
        ("text/*", False),
        ("", False),
    ],
)
async def test_csv_only_when_asked_for_at_least_as_much_as_json(
    client: httpx.AsyncClient, accept: str, csv_expected: bool
) -> None:
    response = await client.get("/v1/directory", headers={"Accept": accept})
    assert response.status_code == 200
    expected = "text/csv" if csv_expected else "application/json"
    assert response.headers["content-type"].startswith(expected)
    assert response.headers["vary"] == "Accept"


async def test_csv_has_every_page_and_defuses_formulas(
    client: httpx.AsyncClient, actors: Actors, app: FastAPI
) -> None:
    region = unique("csv").lower()
    evil = f"=cmd|' /C calc'!A0 {unique()}"
    await _designated(client, app, actors, region, 100, name=evil)
    for _ in range(2):
        await _designated(client, app, actors, region, 100)
    response = await client.get(
        "/v1/directory",
        params={"region": region, "limit": 1},
        headers={"Accept": "text/csv;q=0.9, application/json;q=0.1"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    assert "'" + evil in {row["name"] for row in rows}
    assert all(not row["name"].startswith("=") for row in rows)
    assert "Private note." not in response.text
    assert "Private Person" not in response.text
    assert {row["contacts"] for row in rows} == {"Public Person (Director) 555-0100"}
    assert date.fromisoformat(rows[0]["expires_at"][:10]) > utcnow().date()
