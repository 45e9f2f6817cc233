"""The in-memory match index never answers from data older than the last committed write.

Two app instances on one database stand for two server workers: one takes the writes, the
other answers the matches from the index it loaded before them.
"""

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.base import utcnow
from app.core.config import Settings
from app.core.db import SQLITE_BEGIN
from app.main import YOUNG_COLLECTION_THRESHOLD, create_app
from app.matching import index as match_index
from app.matching import repository
from app.matching.engine import Candidate, NeedRequest, NeedsQuery, Weights
from app.matching.index import MatchIndex
from app.matching.repository import IndexedPartner
from app.matching.vector import CurrentArrays
from app.needs.vocabulary import FundingSource
from tests.factories import (
    Actors,
    create_needs,
    create_partner,
    engagement_payload,
    force_partner_state,
    submit_evidence,
    unique,
)
from tests.matching.test_matches_api import (
    _delta,
    _district,
    _match,
    _partner,
    _reasons,
    _result,
)


def _query(region: str) -> NeedsQuery:
    return NeedsQuery(
        region=region,
        locale="city",
        grade_bands=frozenset({"elementary"}),
        student_groups=frozenset(),
        needs=(NeedRequest("staffing", 5), NeedRequest("literacy", 2)),
        funding_source=FundingSource.OTHER,
        min_evidence_tier=4,
        budget=60_000,
        delivery_modes=frozenset(),
        as_of=utcnow().date(),
    )


@pytest.fixture
async def other_worker(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield app, client
    await app.state.database.dispose()


async def test_another_worker_sees_every_committed_write(
    app: FastAPI,
    client: httpx.AsyncClient,
    actors: Actors,
    other_worker: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    other_app, other = other_worker
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region, capacity=1)
    profile = await create_needs(client, user, district_id)
    first = await _match(other, user, needs_id=profile["id"])
    assert _result(first, partner_id) is not None
    loaded_at = other_app.state.match_index.version

    engaged = await client.post(
        "/v1/engagements", json=engagement_payload(partner_id, district_id), headers=user.headers
    )
    assert engaged.status_code == 201, engaged.text
    assert "at_capacity" in _reasons(await _match(other, user, needs_id=profile["id"]), partner_id)
    assert other_app.state.match_index.version > loaded_at

    await force_partner_state(app, partner_id, capacity=5)
    placed = await _match(other, user, needs_id=profile["id"])
    assert _result(placed, partner_id) is not None

    read = await client.get(f"/v1/partners/{partner_id}", headers=actors.admin.headers)
    moved = await client.patch(
        f"/v1/partners/{partner_id}",
        json={"regions": [unique("r")]},
        headers=actors.admin.headers | {"If-Match": read.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text
    elsewhere = await _match(other, user, needs_id=profile["id"])
    assert _result(elsewhere, partner_id) is None
    assert _delta(placed, elsewhere) == {"region_not_served": 1}

    await force_partner_state(app, partner_id, expires_at=utcnow() - timedelta(days=1))
    gone = await _match(other, user, needs_id=profile["id"])
    assert _result(gone, partner_id) is None
    assert partner_id not in {miss["partner_id"] for miss in gone["excluded"]}


async def test_new_evidence_reaches_another_workers_matches(
    app: FastAPI,
    client: httpx.AsyncClient,
    actors: Actors,
    other_worker: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _other_app, other = other_worker
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region, studies=())
    profile = await create_needs(client, user, district_id)
    before = await _match(other, user, needs_id=profile["id"])
    assert "evidence_below_minimum" in _reasons(before, partner_id)

    evidence = await submit_evidence(client, actors.admin, partner_id)
    accepted = await client.post(
        f"/v1/evidence/{evidence['id']}/decision",
        json={"decision": "accept"},
        headers=actors.reviewer.headers | {"If-Match": f'"{evidence["version"]}"'},
    )
    assert accepted.status_code == 200, accepted.text
    after = _result(await _match(other, user, needs_id=profile["id"]), partner_id)
    assert after is not None
    assert evidence["id"] in after["needs"][0]["evidence_ids"]


async def test_an_index_kept_current_equals_one_loaded_afresh(
    app: FastAPI,
    client: httpx.AsyncClient,
    actors: Actors,
    other_worker: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    other_app, other = other_worker
    district_id, region, user = await _district(app, client, actors.admin)
    profile = await create_needs(client, user, district_id)
    await _match(other, user, needs_id=profile["id"])
    partner_ids = [await _partner(app, client, actors, region, capacity=3) for _ in range(3)]
    await client.post(
        "/v1/engagements",
        json=engagement_payload(partner_ids[0], district_id),
        headers=user.headers,
    )
    await force_partner_state(app, partner_ids[1], status="suspended")
    await _match(other, user, needs_id=profile["id"])

    query = _query(region)
    fresh = MatchIndex()
    async with app.state.database.sessions() as session:
        await fresh.refresh(session)
    kept = other_app.state.match_index
    moment = utcnow()
    kept_list = kept.shortlist(query, moment, Weights(), None, moment.date())
    fresh_list = fresh.shortlist(query, moment, Weights(), None, moment.date())
    assert kept_list.counts == fresh_list.counts

    def by_partner(candidates: list[Candidate]) -> dict[uuid.UUID, Candidate]:
        return {candidate.partner_id: candidate for candidate in candidates}

    assert by_partner(kept_list.candidates) == by_partner(fresh_list.candidates)
    assert {str(c.partner_id) for c in kept_list.candidates} >= {partner_ids[0], partner_ids[2]}


async def test_changed_partners_are_appended_until_enough_have_gathered(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(match_index, "REBUILD_AFTER", 2)
    district_id, region, user = await _district(app, client, actors.admin)
    first, second, third = [await _partner(app, client, actors, region) for _ in range(3)]
    profile = await create_needs(client, user, district_id)
    index: MatchIndex = app.state.match_index

    async def arrays_after_change(partner_id: str) -> CurrentArrays:
        await force_partner_state(app, partner_id, name=f"Renamed {partner_id}")
        renamed = _result(await _match(client, user, needs_id=profile["id"]), partner_id)
        assert renamed is not None
        assert renamed["name"] == f"Renamed {partner_id}"
        assert index._arrays is not None
        return index._arrays

    await _match(client, user, needs_id=profile["id"])
    assert index._arrays is not None
    built = len(index._arrays.arrays.candidates)
    appended = await arrays_after_change(first)
    assert len(appended.arrays.candidates) == built + 1
    assert appended.retired.sum() == 1
    assert appended.changed == {uuid.UUID(first)}
    assert (await arrays_after_change(second)).retired.sum() == 2
    rebuilt = await arrays_after_change(third)
    assert len(rebuilt.arrays.candidates) == built
    assert not rebuilt.retired.any()
    assert not rebuilt.changed


async def test_a_reload_of_more_partners_than_a_batch_loads_each_of_them(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "RELOAD_BATCH", 2)
    _district_id, region, _user = await _district(app, client, actors.admin)
    visible = [await _partner(app, client, actors, region) for _ in range(3)]
    draft = await create_partner(client, actors.admin, regions=[region])
    named = [uuid.UUID(partner_id) for partner_id in [*visible, draft["id"]]]
    async with app.state.database.sessions() as session:
        every_partner = await repository.load_partners(session)
        reloaded = await repository.load_partners(session, named)
    assert set(reloaded) == {uuid.UUID(partner_id) for partner_id in visible}
    assert reloaded == {partner_id: every_partner[partner_id] for partner_id in reloaded}


def _loads_held_until_released(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[asyncio.Event, asyncio.Event]:
    """Loads of the match index wait, once they have read, until the second event is set; the
    first is set when one has read."""
    read, release = asyncio.Event(), asyncio.Event()
    load_partners = repository.load_partners

    async def held_after_reading(
        session: AsyncSession, only: Collection[uuid.UUID] | None = None
    ) -> dict[uuid.UUID, IndexedPartner]:
        loaded = await load_partners(session, only)
        read.set()
        await release.wait()
        return loaded

    monkeypatch.setattr(repository, "load_partners", held_after_reading)
    return read, release


async def test_a_match_waiting_for_the_first_load_sees_a_write_committed_during_it(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    district_id, region, user = await _district(app, client, actors.admin)
    partner_id = await _partner(app, client, actors, region, capacity=1)
    database = app.state.database
    index = MatchIndex()
    read, release = _loads_held_until_released(monkeypatch)
    async with database.sessions() as loading:
        first_load = asyncio.create_task(index.refresh(loading))
        await read.wait()
        engaged = await client.post(
            "/v1/engagements",
            json=engagement_payload(partner_id, district_id),
            headers=user.headers,
        )
        assert engaged.status_code == 201, engaged.text
        # A match that began after that commit, waiting for the load to finish.
        async with database.sessions() as matching:
            await matching.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
            waiting = asyncio.create_task(index.refresh(matching))
            await asyncio.sleep(0.05)
            release.set()
            await first_load
            await waiting
    shortlisted = index.shortlist(_query(region), utcnow(), Weights(), None, utcnow().date())
    engagements = {
        str(candidate.partner_id): candidate.active_engagements
        for candidate in shortlisted.candidates
    }
    assert engagements.get(partner_id) == 1


async def test_a_match_that_waited_for_a_reload_asks_again_only_when_it_saw_more(
    app: FastAPI, client: httpx.AsyncClient, actors: Actors, monkeypatch: pytest.MonkeyPatch
) -> None:
    _district_id, region, _user = await _district(app, client, actors.admin)
    first, second = [await _partner(app, client, actors, region, capacity=3) for _ in range(2)]
    database = app.state.database
    index = MatchIndex()
    async with database.sessions() as session:
        await index.refresh(session)
    asked = 0
    changes_since = repository.changes_since

    async def counted(session: AsyncSession, version: int) -> dict[uuid.UUID, int]:
        nonlocal asked
        asked += 1
        return await changes_since(session, version)

    monkeypatch.setattr(repository, "changes_since", counted)
    reading, release = _loads_held_until_released(monkeypatch)
    await force_partner_state(app, first, capacity=1)
    async with (
        database.sessions() as reloading,
        database.sessions() as saw_first,
        database.sessions() as saw_both,
    ):
        reload = asyncio.create_task(index.refresh(reloading))
        await reading.wait()
        waiting = [asyncio.create_task(index.refresh(saw_first))]
        await asyncio.sleep(0.05)
        await force_partner_state(app, second, capacity=2)
        waiting.append(asyncio.create_task(index.refresh(saw_both)))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(reload, *waiting)
    shortlisted = index.shortlist(_query(region), utcnow(), Weights(), None, utcnow().date())
    capacities = {str(c.partner_id): c.capacity for c in shortlisted.candidates}
    assert (capacities[first], capacities[second]) == (1, 2)
    # Once each, and again only by the match that had seen a change the reload had not.
    assert asked == 4


async def test_a_worker_loads_its_index_as_it_starts(settings: Settings) -> None:
    app = create_app(settings)
    index: MatchIndex = app.state.match_index
    async with app.router.lifespan_context(app):
        assert index.warming
        assert index._warm_up is not None
        await asyncio.wait_for(asyncio.shield(index._warm_up), timeout=30)
        assert index.version is not None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/readyz")).status_code == 200


async def test_what_a_worker_loaded_is_left_out_of_full_gc_passes_until_it_stops(
    settings: Settings,
) -> None:
    app = create_app(settings)
    index: MatchIndex = app.state.match_index
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        assert index._warm_up is not None
        await asyncio.wait_for(asyncio.shield(index._warm_up), timeout=30)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_a_worker_collects_young_objects_less_often_until_it_stops(
    settings: Settings,
) -> None:
    before = gc.get_threshold()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *before[1:])
        assert before[0] < YOUNG_COLLECTION_THRESHOLD
    assert gc.get_threshold() == before
