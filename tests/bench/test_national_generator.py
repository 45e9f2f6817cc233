"""The national data set at a tiny scale: counts, determinism, consistency, idempotence.

Runs on a database of its own (a file on SQLite, `<test database>_national` on PostgreSQL),
because the generated registry would show up in other tests' unfiltered lists.
"""

import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import selectinload

from app.cli import _in_transaction
from app.core.base import utcnow
from app.core.config import Settings
from app.core.migrations import upgrade
from app.designations.models import Designation
from app.engagements.models import CheckIn, Engagement
from app.evidence.classifier import Tier
from app.evidence.models import Evidence, EvidenceStatus
from app.evidence.rollup import partner_tiers
from app.evidence.service import thresholds, to_study
from app.matching.repository import load_partners
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Partner, PartnerEvidenceTier, PartnerFacet
from app.reviews.models import Rubric
from seed.loader import load_reference
from seed.national import FULL_SCALE, Generator, generate, scaled
from tests.conftest import _recreate_postgres_database, backend, make_settings

SCALE = 0.002
SEED = 7


@pytest.fixture(scope="module")
def national_settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
    if backend() == "postgresql":
        url = make_url(database_url)
        url = url.set(database=f"{url.database}_national")
        _recreate_postgres_database(url.set(drivername="postgresql").render_as_string(False))
        scratch = url.render_as_string(hide_password=False)
    else:
        scratch = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('national') / 'national.db'}"
    upgrade(scratch)
    return make_settings(scratch)


@pytest.fixture(scope="module")
def generated(national_settings: Settings) -> Any:
    async def work(session: Any) -> Any:
        await load_reference(session)
        return await generate(session, national_settings, scale=SCALE, seed=SEED)

    return _in_transaction(national_settings, work)


def test_counts_follow_the_scale(generated: Any) -> None:
    counts = generated.counts
    assert counts["partners"] == scaled(FULL_SCALE["partners"], SCALE)
    assert counts["districts"] == scaled(FULL_SCALE["districts"], SCALE)
    assert counts["needs_profiles"] == scaled(FULL_SCALE["needs_profiles"], SCALE)
    assert counts["evidence"] > 0
    assert counts["evidence_findings"] >= counts["evidence"]
    assert generated.fixtures["needs_ids"]
    assert generated.fixtures["admin_key"].startswith("rk_")


def _names(settings: Settings, rubric: Rubric, seed: int) -> list[str]:
    """The partner names a fresh generator plans for ``seed``, without touching a database."""
    generator = Generator(
        rng=random.Random(seed), now=utcnow(), limits=thresholds(settings), rubric=rubric
    )
    generator.districts(scaled(FULL_SCALE["districts"], SCALE))
    generator.needs_profiles(scaled(FULL_SCALE["needs_profiles"], SCALE))
    generator.partners(scaled(FULL_SCALE["partners"], SCALE))
    return sorted(row["name"] for row in generator.rows.tables[Partner])


def test_the_same_seed_gives_the_same_registry(generated: Any, national_settings: Settings) -> None:
    async def work(session: Any) -> tuple[list[str], Rubric]:
        names = await session.scalars(select(Partner.name))
        return sorted(names), await session.scalar(select(Rubric).limit(1))

    stored, rubric = _in_transaction(national_settings, work)
    assert stored == _names(national_settings, rubric, SEED)
    assert stored != _names(national_settings, rubric, SEED + 1)


def test_partner_tiers_agree_with_accepted_evidence(
    generated: Any, national_settings: Settings
) -> None:
    async def work(session: Any) -> tuple[dict[Any, dict[str, int]], dict[Any, dict[str, int]]]:
        records = await session.scalars(
            select(Evidence)
            .where(Evidence.status == EvidenceStatus.ACCEPTED)
            .options(selectinload(Evidence.findings))
        )
        by_partner: dict[Any, list[Any]] = defaultdict(list)
        for record in records:
            final = None if record.final_tier is None else Tier(record.final_tier)
            by_partner[record.partner_id].append((to_study(record), final))
        expected = {
            partner: {domain: int(tier) for domain, tier in tiers.items()}
            for partner, studies in by_partner.items()
            if (tiers := partner_tiers(studies, thresholds(national_settings)))
        }
        stored: dict[Any, dict[str, int]] = defaultdict(dict)
        for row in await session.scalars(select(PartnerEvidenceTier)):
            stored[row.partner_id][row.need_domain] = row.tier
        return expected, dict(stored)

    expected, stored = _in_transaction(national_settings, work)
    assert stored == expected
    assert stored, "the tiny registry should still hold some tiered evidence"


def test_every_partners_pairs_hold_its_facets_and_tiers(
    generated: Any, national_settings: Settings
) -> None:
    # On PostgreSQL the bulk load turns the triggers off and fills the pairs itself.
    async def work(session: Any) -> tuple[dict[Any, list[str]], dict[Any, list[str]]]:
        held = {
            partner_id: sorted([*(facets or []), *(f"tier {pair}" for pair in tiers or [])])
            for partner_id, facets, tiers in await session.execute(
                select(Partner.id, Partner.facet_pairs, Partner.tier_pairs)
            )
        }
        expected: dict[Any, list[str]] = {partner_id: [] for partner_id in held}
        for facet in await session.scalars(select(PartnerFacet)):
            expected[facet.partner_id].append(f"{facet.facet}:{facet.value}")
        for tier in await session.scalars(select(PartnerEvidenceTier)):
            expected[tier.partner_id].append(f"tier {tier.need_domain}:{tier.tier}")
        return held, {partner_id: sorted(pairs) for partner_id, pairs in expected.items()}

    held, expected = _in_transaction(national_settings, work)
    assert held == expected
    assert all(held.values())
    assert any("tier " in pair for pairs in held.values() for pair in pairs)


def test_designation_dates_fit_the_statuses(generated: Any, national_settings: Settings) -> None:
    async def work(session: Any) -> list[tuple[Partner, list[Designation]]]:
        partners = list(await session.scalars(select(Partner)))
        terms: dict[Any, list[Designation]] = defaultdict(list)
        for term in await session.scalars(select(Designation)):
            terms[term.partner_id].append(term)
        return [(partner, terms[partner.id]) for partner in partners]

    now = utcnow()
    designated = {PartnerStatus.APPROVED, PartnerStatus.SUSPENDED}
    for partner, terms in _in_transaction(national_settings, work):
        status = partner.status_on(now)
        if partner.approved_at is None or partner.expires_at is None:
            assert not terms
            assert status not in {*designated, PartnerStatus.EXPIRED}
            continue
        assert [(t.approved_at, t.expires_at) for t in terms] == [
            (partner.approved_at, partner.expires_at)
        ]
        assert partner.expires_at - partner.approved_at > timedelta(days=1000)
        if status in designated:
            assert partner.approved_at <= now < partner.expires_at
        if status is PartnerStatus.EXPIRED:
            assert partner.expires_at <= now


def test_check_ins_fall_in_their_engagements_and_track_records_differ(
    generated: Any, national_settings: Settings
) -> None:
    async def work(session: Any) -> tuple[list[tuple[Any, ...]], dict[Any, Any]]:
        rows = await session.execute(
            select(CheckIn.held_on, CheckIn.score, Engagement.start_date, Engagement.end_date).join(
                Engagement, Engagement.id == CheckIn.engagement_id
            )
        )
        return list(rows), await load_partners(session)

    check_ins, indexed = _in_transaction(national_settings, work)
    today = utcnow().date()
    assert generated.counts["engagement_check_ins"] == len(check_ins) > 0
    for held_on, score, start, end in check_ins:
        assert start < held_on <= min(end or today, today)
        assert 0 <= score <= 1
    # Rated around each partner's own quality: the index reads different records.
    records = {p.candidate.track_record for p in indexed.values()} - {None}
    assert len(records) > 1
    assert all(0 < record < 1 for record in records)


def test_a_second_run_adds_nothing(generated: Any, national_settings: Settings) -> None:
    async def work(session: Any) -> tuple[Any, int]:
        again = await generate(session, national_settings, scale=SCALE, seed=SEED)
        return again, await session.scalar(select(func.count()).select_from(Partner))

    again, partners = _in_transaction(national_settings, work)
    assert again is None
    assert partners == generated.counts["partners"]
