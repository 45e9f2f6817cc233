"""The matching queries: the candidate loader and the stored matches, scoped to the caller.

The loader answers one match in a fixed handful of set-based queries, whatever the number of
partners, and narrows in SQL before it loads anything per partner:

1. one aggregate over the partners districts may see, counting those that a match rules out
   before any detail matters: not designated on as_of (`designation_inactive`), out of the
   district's region without virtual delivery (`region_not_served`), and serving none of the
   requested needs (`need_not_served`, which also means `evidence_below_minimum`). These
   partners are counted, not loaded: none of them can rank, and a near miss is one that
   failed on a detail, not on the basics. Each counts under that first reason only.
2. the remaining candidates' rows, then in one query each: the facet values the query can
   test, their accepted findings in the requested need domains, active engagements, and the
   latest approving review with its scores. Every one of them filters by the candidate
   subquery, which reads the indexes on partner_facets(facet, value, partner_id),
   partners(status), evidence(partner_id, ...), evidence_findings(evidence_id, ...),
   engagements(partner_id, status) and reviews(partner_id).

Track record is not measured yet (engagement check-ins are to come): every candidate's is
None, which the engine scores as unknown (0.5).
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from app.auth.principal import Principal
from app.core.vocabulary import DeliveryMode
from app.engagements.lifecycle import EngagementStatus
from app.engagements.models import Engagement
from app.evidence.classifier import Study, Tier
from app.evidence.models import Evidence, EvidenceFinding, EvidenceStatus
from app.matching.engine import Candidate, ExclusionCode, NeedsQuery, Support
from app.matching.models import Match
from app.partners import repository as partners
from app.partners.models import Facet, Partner, PartnerEvidenceTier, PartnerFacet
from app.reviews.models import Decision, Review, ReviewDecision, Rubric, Score, ScoreSheet
from app.reviews.scoring import Criterion, summarise

APPROVING = (Decision.APPROVE, Decision.APPROVE_WITH_CONDITIONS)


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.district_id is not None:
        return Match.district_id == principal.district_id
    return false()


def list_query(principal: Principal, district_id: uuid.UUID | None) -> Select[Match]:
    conditions = [_scope(principal)]
    if district_id is not None:
        conditions.append(Match.district_id == district_id)
    return select(Match).where(*conditions)


async def get(session: AsyncSession, principal: Principal, match_id: uuid.UUID) -> Match | None:
    query = select(Match).where(_scope(principal), Match.id == match_id)
    return await session.scalar(query.options(undefer(Match.response)))


@dataclass(frozen=True)
class Loaded:
    candidates: list[Candidate]
    # Partners ruled out in SQL, by the reason that ruled them out.
    counted: dict[ExclusionCode, int]


def _requested(query: NeedsQuery) -> list[str]:
    return [need.need_domain for need in query.needs]


def _reachable(query: NeedsQuery) -> ColumnElement[bool]:
    in_region = partners.has_any_facet(Facet.REGION, [query.region])
    if not query.accepts_virtual:
        return in_region
    return or_(in_region, partners.has_any_facet(Facet.DELIVERY_MODE, [DeliveryMode.VIRTUAL]))


async def _count_ruled_out(
    session: AsyncSession, query: NeedsQuery, moment: datetime
) -> dict[ExclusionCode, int]:
    designated = partners.designation_active(moment)
    reachable = and_(designated, _reachable(query))
    serving = and_(reachable, partners.has_any_facet(Facet.NEED_DOMAIN, _requested(query)))
    # Nested sets counted by difference: NOT over a NULL expiry would count nothing.
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(designated),
                func.count().filter(reachable),
                func.count().filter(serving),
            ).where(partners.district_visible())
        )
    ).one()
    total, n_designated, n_reachable, n_serving = (int(value) for value in row)
    return {
        ExclusionCode.DESIGNATION_INACTIVE: total - n_designated,
        ExclusionCode.REGION_NOT_SERVED: n_designated - n_reachable,
        ExclusionCode.NEED_NOT_SERVED: n_reachable - n_serving,
        ExclusionCode.EVIDENCE_BELOW_MINIMUM: n_reachable - n_serving,
    }


def _candidate_ids(query: NeedsQuery, moment: datetime) -> Select[uuid.UUID]:
    return select(Partner.id).where(
        partners.district_visible(),
        partners.designation_active(moment),
        _reachable(query),
        partners.has_any_facet(Facet.NEED_DOMAIN, _requested(query)),
    )


async def _facets(
    session: AsyncSession, query: NeedsQuery, ids: Select[uuid.UUID]
) -> dict[uuid.UUID, dict[Facet, set[str]]]:
    """Only the values the engine can test: its answers are the same, the rows far fewer."""
    testable: dict[Facet, Collection[str]] = {
        Facet.NEED_DOMAIN: _requested(query),
        Facet.REGION: [query.region],
        Facet.LOCALE: [query.locale],
        Facet.GRADE_BAND: query.grade_bands,
        Facet.DELIVERY_MODE: query.delivery_modes | {DeliveryMode.VIRTUAL},
    }
    rows = await session.execute(
        select(PartnerFacet.partner_id, PartnerFacet.facet, PartnerFacet.value).where(
            PartnerFacet.partner_id.in_(ids),
            or_(
                *(
                    and_(PartnerFacet.facet == facet, PartnerFacet.value.in_(values))
                    for facet, values in testable.items()
                    if values
                )
            ),
        )
    )
    found: dict[uuid.UUID, dict[Facet, set[str]]] = defaultdict(lambda: defaultdict(set))
    for partner_id, facet, value in rows:
        found[partner_id][facet].add(value)
    return found


def accepted_tier(finding: int, computed: int | None, final: int | None, domain: int) -> Tier:
    """A finding's context-free tier as the registry accepted it.

    As in `app.evidence.rollup`: the reviewer's final tier is the record's tier, so it sets the
    findings at the record's computed tier and caps the others; and no finding counts stronger
    than the partner's rolled-up tier in its domain, which is where overriding unfavorable
    evidence in another record has already been applied.
    """
    if final is not None:
        finding = final if finding == computed else max(finding, final)
    return Tier(max(finding, domain))


async def _supports(
    session: AsyncSession, query: NeedsQuery, ids: Select[uuid.UUID]
) -> dict[uuid.UUID, list[Support]]:
    rows = await session.execute(
        select(
            Evidence.partner_id,
            Evidence.id,
            EvidenceFinding.need_domain,
            EvidenceFinding.tier,
            Evidence.computed_tier,
            Evidence.final_tier,
            PartnerEvidenceTier.tier,
            Evidence.design,
            Evidence.standards_rating,
            Evidence.controls_for_selection_bias,
            Evidence.sample_size,
            Evidence.site_count,
            Evidence.grade_bands,
            Evidence.locales,
            Evidence.student_groups,
            Evidence.has_logic_model,
            Evidence.research_basis,
            Evidence.ongoing_evaluation,
        )
        .join(EvidenceFinding, EvidenceFinding.evidence_id == Evidence.id)
        .join(
            PartnerEvidenceTier,
            and_(
                PartnerEvidenceTier.partner_id == Evidence.partner_id,
                PartnerEvidenceTier.need_domain == EvidenceFinding.need_domain,
            ),
        )
        .where(
            Evidence.partner_id.in_(ids),
            Evidence.status == EvidenceStatus.ACCEPTED,
            EvidenceFinding.need_domain.in_(_requested(query)),
            EvidenceFinding.tier.is_not(None),
            # A subgroup's result speaks for part of a sample, not for the practice.
            EvidenceFinding.subgroup.is_(False),
        )
    )
    studies: dict[uuid.UUID, Study] = {}
    found: dict[uuid.UUID, list[Support]] = defaultdict(list)
    for partner_id, evidence_id, domain, tier, computed, final, domain_tier, *study in rows:
        assert tier is not None, "the query keeps tiered findings only"
        if evidence_id not in studies:
            studies[evidence_id] = _study(*study)
        found[partner_id].append(
            Support(
                need_domain=domain,
                evidence_id=str(evidence_id),
                tier=accepted_tier(tier, computed, final, domain_tier),
                study=studies[evidence_id],
            )
        )
    return found


def _study(
    design: Any,
    standards_rating: Any,
    controls: bool,
    sample_size: int | None,
    site_count: int | None,
    grade_bands: Iterable[str],
    locales: Iterable[str],
    student_groups: Iterable[str],
    has_logic_model: bool,
    research_basis: bool,
    ongoing_evaluation: bool,
) -> Study:
    # Without its findings: matching reads only a study's population and setting.
    return Study(
        design=design,
        standards_rating=standards_rating,
        controls_for_selection_bias=controls,
        sample_size=sample_size,
        site_count=site_count,
        grade_bands=frozenset(grade_bands),
        locales=frozenset(locales),
        student_groups=frozenset(student_groups),
        has_logic_model=has_logic_model,
        research_basis=research_basis,
        ongoing_evaluation=ongoing_evaluation,
        findings=(),
    )


async def _active_engagements(
    session: AsyncSession, ids: Select[uuid.UUID]
) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(Engagement.partner_id, func.count())
        .where(Engagement.partner_id.in_(ids), Engagement.status == EngagementStatus.ACTIVE)
        .group_by(Engagement.partner_id)
    )
    return {partner_id: count for partner_id, count in rows}  # noqa: C416 (rows are Row objects)


async def _due_diligence(session: AsyncSession, ids: Select[uuid.UUID]) -> dict[uuid.UUID, float]:
    """The overall score of each candidate's latest approving review (see reviews.scoring)."""
    ranked = (
        select(
            Review.id,
            Review.partner_id,
            Review.rubric_id,
            func.row_number()
            .over(
                partition_by=Review.partner_id,
                order_by=(ReviewDecision.decided_at.desc(), Review.id.desc()),
            )
            .label("position"),
        )
        .join(ReviewDecision, ReviewDecision.review_id == Review.id)
        .where(Review.partner_id.in_(ids), ReviewDecision.decision.in_(APPROVING))
        .subquery()
    )
    latest = await session.execute(
        select(
            ranked.c.id, ranked.c.partner_id, Rubric.criteria, Rubric.scale_min, Rubric.scale_max
        )
        .join(Rubric, Rubric.id == ranked.c.rubric_id)
        .where(ranked.c.position == 1)
    )
    reviews = {review_id: rest for review_id, *rest in latest}
    if not reviews:
        return {}
    sheets: dict[uuid.UUID, dict[uuid.UUID, dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    scores = await session.execute(
        select(ScoreSheet.review_id, ScoreSheet.id, Score.criterion, Score.score)
        .join(Score, Score.sheet_id == ScoreSheet.id)
        .where(ScoreSheet.review_id.in_(reviews), ScoreSheet.conflict_declared.is_(False))
    )
    for review_id, sheet_id, criterion, score in scores:
        sheets[review_id][sheet_id][criterion] = score
    found: dict[uuid.UUID, float] = {}
    for review_id, (partner_id, criteria, low, high) in reviews.items():
        summary = summarise(
            [Criterion(row["code"], row["weight"], row["required"]) for row in criteria],
            (low, high),
            sheets[review_id].values(),
        )
        if summary.overall is not None:
            found[partner_id] = summary.overall
    return found


def _candidate(
    row: Any,
    facets: Mapping[Facet, set[str]],
    supports: list[Support],
    engagements: int,
    due_diligence: float | None,
) -> Candidate:
    partner_id, name, capacity, cost_min, cost_max = row
    return Candidate(
        partner_id=partner_id,
        name=name,
        # Loaded only when designated on as_of, renewals of a running term included.
        designated=True,
        need_domains=frozenset(facets.get(Facet.NEED_DOMAIN, ())),
        regions=frozenset(facets.get(Facet.REGION, ())),
        delivery_modes=frozenset(facets.get(Facet.DELIVERY_MODE, ())),
        grade_bands=frozenset(facets.get(Facet.GRADE_BAND, ())),
        locales=frozenset(facets.get(Facet.LOCALE, ())),
        cost_min=cost_min,
        cost_max=cost_max,
        capacity=capacity,
        active_engagements=engagements,
        due_diligence=due_diligence,
        track_record=None,
        supports=tuple(supports),
    )


async def load_candidates(session: AsyncSession, query: NeedsQuery, moment: datetime) -> Loaded:
    """Every partner a match considers: the candidates in full, the rest as counts."""
    counted = await _count_ruled_out(session, query, moment)
    ids = _candidate_ids(query, moment)
    rows = list(
        await session.execute(
            select(
                Partner.id, Partner.name, Partner.capacity, Partner.cost_min, Partner.cost_max
            ).where(Partner.id.in_(ids))
        )
    )
    if not rows:
        return Loaded([], counted)
    facets = await _facets(session, query, ids)
    supports = await _supports(session, query, ids)
    engagements = await _active_engagements(session, ids)
    due_diligence = await _due_diligence(session, ids)
    candidates = [
        _candidate(
            row,
            facets.get(row[0], {}),
            supports.get(row[0], []),
            engagements.get(row[0], 0),
            due_diligence.get(row[0]),
        )
        for row in rows
    ]
    return Loaded(candidates, counted)
