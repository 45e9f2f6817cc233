"""`partners.facet_pairs` and `tier_pairs`, which partner reads and list filters use, always
hold the partner's facets and evidence tiers, whatever writes them (migration 0007's
triggers)."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Executable

from app.partners.models import Facet, Partner, PartnerEvidenceTier, PartnerFacet
from tests.conftest import backend
from tests.factories import Actor, create_partner, unique

Column = InstrumentedAttribute[Any]


async def _pairs(
    app: FastAPI,
    partner_id: uuid.UUID,
    array: Column = Partner.facet_pairs,
    rows_of: tuple[Column, Column, Column] = (
        PartnerFacet.partner_id,
        PartnerFacet.facet,
        PartnerFacet.value,
    ),
) -> tuple[list[str], list[str]]:
    """The partner's ``array``, and what the rows it copies say it should hold, both sorted."""
    owner, key, value = rows_of
    async with app.state.database.sessions() as session:
        held = await session.scalar(select(array).where(Partner.id == partner_id))
        rows = await session.execute(select(key, value).where(owner == partner_id))
        return sorted(held or []), sorted(f"{key}:{value}" for key, value in rows)


async def _tier_pairs(app: FastAPI, partner_id: uuid.UUID) -> tuple[list[str], list[str]]:
    tier_rows = (
        PartnerEvidenceTier.partner_id,
        PartnerEvidenceTier.need_domain,
        PartnerEvidenceTier.tier,
    )
    return await _pairs(app, partner_id, Partner.tier_pairs, tier_rows)


Pairs = Callable[[FastAPI, uuid.UUID], Awaitable[tuple[list[str], list[str]]]]


async def _each_followed(
    app: FastAPI, partner_id: uuid.UUID, writes: list[Executable], pairs: Pairs
) -> list[str]:
    """Commits each write on its own and checks the array followed it; the array at the end."""
    held: list[str] = []
    for write in writes:
        async with app.state.database.sessions() as session, session.begin():
            await session.execute(write)
        held, rows = await pairs(app, partner_id)
        assert held == rows
    return held


async def test_the_api_keeps_the_pairs_with_the_facets_and_lists_filter_on_them(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor
) -> None:
    old_region, new_region = unique("old").lower(), unique("new").lower()
    partner = await create_partner(client, admin, regions=[old_region])
    partner_id = uuid.UUID(partner["id"])
    held, rows = await _pairs(app, partner_id)
    assert held == rows
    assert f"region:{old_region}" in held

    url = f"/v1/partners/{partner['id']}"
    changed = await client.patch(
        url,
        json={"regions": [new_region, "north"], "need_domains": ["literacy"]},
        headers=admin.headers | {"If-Match": '"1"'},
    )
    assert changed.status_code == 200
    held, rows = await _pairs(app, partner_id)
    assert held == rows
    assert f"region:{new_region}" in held
    assert f"region:{old_region}" not in held
    assert "need_domain:staffing" not in held

    async def listed(**filters: str) -> list[str]:
        response = await client.get("/v1/partners", params=filters, headers=admin.headers)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert await listed(region=new_region, need_domain="literacy") == [partner["id"]]
    assert await listed(region=new_region, need_domain="staffing") == []
    assert await listed(region=old_region) == []


async def test_every_kind_of_write_to_the_facet_rows_reaches_the_pairs(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor
) -> None:
    partner_id = uuid.UUID((await create_partner(client, admin))["id"])
    facet_rows = PartnerFacet.partner_id == partner_id
    writes: list[Executable] = [
        insert(PartnerFacet).values(partner_id=partner_id, facet=Facet.REGION, value="east"),
        update(PartnerFacet)
        .where(facet_rows, PartnerFacet.facet == Facet.REGION, PartnerFacet.value == "east")
        .values(value="west"),
        delete(PartnerFacet).where(facet_rows, PartnerFacet.facet == Facet.NEED_DOMAIN),
        delete(PartnerFacet).where(facet_rows),
    ]
    assert await _each_followed(app, partner_id, writes, _pairs) == []


async def test_every_kind_of_write_to_the_tier_rows_reaches_the_pairs_and_the_read(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor
) -> None:
    partner_id = uuid.UUID((await create_partner(client, admin))["id"])
    tier_rows = PartnerEvidenceTier.partner_id == partner_id
    writes: list[Executable] = [
        insert(PartnerEvidenceTier).values(
            [
                {"partner_id": partner_id, "need_domain": "staffing", "tier": 3},
                {"partner_id": partner_id, "need_domain": "literacy", "tier": 2},
            ]
        ),
        update(PartnerEvidenceTier)
        .where(tier_rows, PartnerEvidenceTier.need_domain == "staffing")
        .values(tier=1),
        delete(PartnerEvidenceTier).where(tier_rows, PartnerEvidenceTier.need_domain == "literacy"),
    ]
    assert await _each_followed(app, partner_id, writes, _tier_pairs) == ["staffing:1"]
    read = await client.get(f"/v1/partners/{partner_id}", headers=admin.headers)
    assert read.json()["evidence_tiers"] == {"staffing": 1}
    async with app.state.database.sessions() as session, session.begin():
        await session.execute(delete(PartnerEvidenceTier).where(tier_rows))
    assert await _tier_pairs(app, partner_id) == ([], [])


@pytest.mark.skipif(backend() != "postgresql", reason="SQLite has one writer at a time")
async def test_two_concurrent_writers_of_one_partners_facets_both_reach_the_pairs(
    app: FastAPI, client: httpx.AsyncClient, admin: Actor
) -> None:
    partner_id = uuid.UUID((await create_partner(client, admin))["id"])
    database = app.state.database

    def new_region(value: str) -> object:
        return insert(PartnerFacet).values(partner_id=partner_id, facet=Facet.REGION, value=value)

    async with database.sessions() as first, first.begin():
        await first.execute(new_region("east"))

        async def second_writer() -> None:
            async with database.sessions() as second, second.begin():
                await second.execute(new_region("west"))

        second = asyncio.create_task(second_writer())
        await asyncio.sleep(0.3)
        # The second writer's trigger waits for the first writer's partner row...
        assert not second.done()
    # ... and, once the first commits, recomputes from a snapshot that holds its row.
    await asyncio.wait_for(second, timeout=10)
    held, rows = await _pairs(app, partner_id)
    assert held == rows
    assert {"region:east", "region:west"} <= set(held)
