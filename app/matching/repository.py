"""The matching queries: what the match index loads, its change feed, and stored matches.

The index (`app.matching.index`) holds every partner districts may see, as the engine's
`Candidate`s, and reloads the partners that `partner_changes` says have changed. A load, of
all partners or of a few, is a fixed handful of set-based queries filtered by one partner-id
subquery, each statement built once: the partners' rows with their facets (the array each row
keeps), their accepted findings (one `Support` per record and need domain, at its strongest
accepted tier), their active engagements with their end dates, the latest approving review
with its rubric and scores, and the latest check-in of each of their engagements (their track
record, `app.engagements.track_record`).
"""

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    Subquery,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer
from sqlalchemy.sql.elements import BindParameter

from app.auth.principal import Principal
from app.engagements import repository as engagements
from app.engagements.lifecycle import EngagementStatus
from app.engagements.models import Engagement
from app.engagements.track_record import track_record
from app.evidence.classifier import Study, Tier
from app.evidence.models import Evidence, EvidenceFinding, EvidenceStatus
from app.matching.engine import Candidate, Support
from app.matching.models import Match, PartnerChange, PartnerChangeCounter
from app.partners import repository as partners
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet, Partner
from app.reviews.models import (
    APPROVING,
    Review,
    ReviewDecision,
    Rubric,
    Score,
    ScoreSheet,
)
from app.reviews.scoring import Criterion, summarise

# Rows a streamed load takes at a time: at 5,000 a worker's peak while loading was 7 MB higher,
# and each batch is a round trip of a fraction of a millisecond.
STREAM_BATCH = 2000
# A reload names its partners as parameters, this many a statement: a bulk load marks every
# partner changed, and a statement takes at most 65,535 parameters.
RELOAD_BATCH = 1000


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.district_id is not None:
        return Match.district_id == principal.district_id
    return false()


def list_query(
    principal: Principal, district_id: uuid.UUID | None, needs_id: uuid.UUID | None
) -> Select[Match]:
    conditions = [_scope(principal)]
    if district_id is not None:
        conditions.append(Match.district_id == district_id)
    if needs_id is not None:
        conditions.append(Match.needs_id == needs_id)
    return select(Match).where(*conditions)


async def get(session: AsyncSession, principal: Principal, match_id: uuid.UUID) -> Match | None:
    query = select(Match).where(_scope(principal), Match.id == match_id)
    return await session.scalar(query.options(undefer(Match.response)))


@dataclass(frozen=True)
class IndexedPartner:
    """A partner as the match index holds it: its designation, and the engine's candidate."""

    status: PartnerStatus
    approved_at: datetime | None
    expires_at: datetime | None
    # Built as designated: the index hands it to the engine only when it is, on as_of.
    candidate: Candidate


async def change_version(session: AsyncSession) -> int:
    return int(await session.scalar(select(PartnerChangeCounter.version)) or 0)


# Every match asks, and almost always hears "none": built once, run as plain columns on the
# session's connection, it costs a third of what a new ORM statement did.
_CHANGES_SINCE = select(PartnerChange.partner_id, PartnerChange.version).where(
    PartnerChange.version > bindparam("version")
)


async def changes_since(session: AsyncSession, version: int) -> dict[uuid.UUID, int]:
    connection = await session.connection()
    rows = await connection.execute(_CHANGES_SINCE, {"version": version})
    return {partner_id: changed for partner_id, changed in rows}  # noqa: C416 (Row objects)


async def mark_every_partner_changed(session: AsyncSession) -> None:
    """For a bulk load that bypassed the triggers: every index reloads every partner."""
    version = await session.scalar(
        update(PartnerChangeCounter)
        .values(version=PartnerChangeCounter.version + 1)
        .returning(PartnerChangeCounter.version)
    )
    await session.execute(delete(PartnerChange))
    await session.execute(
        insert(PartnerChange).from_select(
            ["partner_id", "version"], select(Partner.id, literal(version, BigInteger))
        )
    )


class _Interned:
    """One frozenset per distinct value set: thousands of partners share a few hundred."""

    def __init__(self) -> None:
        self._sets: dict[frozenset[str], frozenset[str]] = {}

    def __call__(self, values: Iterable[str]) -> frozenset[str]:
        found = frozenset(values)
        return self._sets.setdefault(found, found)


_Columns = TypeVarTuple("_Columns")
_Statement = Select[*tuple[Any, ...]]
_Rows = AsyncIterator[Row[*tuple[Any, ...]]]


@dataclass(frozen=True)
class _Load:
    """The statements of a load, each built once: building a statement and its cache key again
    was about a fifth of the CPU of reloading one partner."""

    partners: _Statement
    supports: _Statement
    engagements: _Statement
    rubrics: _Statement
    scores: _Statement
    check_ins: _Statement

    @classmethod
    def of(cls, *conditions: ColumnElement[bool], named: bool = False) -> "_Load":
        """The statements of the partners that meet ``conditions``, and that a reload names
        in the parameter ``only`` when ``named``."""
        ids = select(Partner.id).where(*conditions)
        latest = _latest_approving_reviews(ids)
        return cls(
            partners=select(
                Partner.id,
                Partner.name,
                Partner.status,
                Partner.approved_at,
                Partner.expires_at,
                Partner.capacity,
                Partner.cost_min,
                Partner.cost_max,
                partners.FACET_PAIRS,
                partners.TIER_PAIRS,
            ).where(*conditions),
            supports=_supports_statement(ids),
            engagements=select(Engagement.partner_id, Engagement.end_date).where(
                Engagement.partner_id.in_(ids), Engagement.status == EngagementStatus.ACTIVE
            ),
            rubrics=select(Rubric.id, Rubric.criteria, Rubric.scale_min, Rubric.scale_max).where(
                Rubric.id.in_(select(latest.c.rubric_id))
            ),
            # A row per score sheet, its scores as pairs: a row per score was 200,000 rows at
            # national scale, and parsing rows was most of a worker's start.
            scores=select(
                latest.c.partner_id,
                latest.c.rubric_id,
                partners.key_value_pairs(Score.criterion, Score.score),
            )
            .join(
                ScoreSheet,
                and_(ScoreSheet.review_id == latest.c.id, ScoreSheet.conflict_declared.is_(False)),
            )
            .join(Score, Score.sheet_id == ScoreSheet.id)
            .group_by(latest.c.id, latest.c.partner_id, latest.c.rubric_id, ScoreSheet.id)
            .order_by(latest.c.id, ScoreSheet.id),
            # A reload's check-ins by the named partners alone: through the id subquery,
            # PostgreSQL scanned every partner in parallel (12 ms for 128 partners against
            # 3 ms). A partner's rows are used only if it is visible (`partners` above).
            check_ins=engagements.latest_check_in_totals(ONLY if named else ids),
        )


def _supports_statement(ids: Select[uuid.UUID]) -> _Statement:
    """Each accepted record of the partners with tiered findings: its tiers, its findings'
    ``need_domain:tier`` pairs and its study.

    A row per record, not per finding: each finding's row repeated its study, and parsing rows
    was most of a worker's start.
    """
    return (
        select(
            Evidence.partner_id,
            Evidence.id,
            Evidence.computed_tier,
            Evidence.final_tier,
            partners.key_value_pairs(EvidenceFinding.need_domain, EvidenceFinding.tier),
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
        .where(
            Evidence.partner_id.in_(ids),
            Evidence.status == EvidenceStatus.ACCEPTED,
            # A subgroup's finding counts as the classifier tiered it (tier 4 at best), as
            # in the partner's rolled-up tiers.
            EvidenceFinding.tier.is_not(None),
        )
        # The record's other columns depend on its id.
        .group_by(Evidence.id)
    )


def _latest_approving_reviews(ids: Select[uuid.UUID]) -> Subquery:
    """The latest approving review of each of the partners."""
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
    return select(ranked).where(ranked.c.position == 1).subquery()


_EVERY_PARTNER = _Load.of(partners.district_visible())
# A reload names its partners in one expanding parameter, so that its statements too are built
# once.
ONLY: BindParameter[Any] = bindparam("only", expanding=True)
_SOME_PARTNERS = _Load.of(partners.district_visible(), Partner.id.in_(ONLY), named=True)


async def _rows(
    session: AsyncSession, statement: Select[*_Columns], only: list[uuid.UUID] | None
) -> AsyncIterator[Row[*_Columns]]:
    """The rows of one of a load's statements.

    A load of every partner streams them: at national scale the findings are 150,000 rows, and
    holding them all at once would double a worker's memory for good (freed memory mostly stays
    with the process). In batches, because iterating a streamed result row by row switches into
    the driver's greenlet for every row. A reload names a few partners (a bulk load's
    change of every partner `RELOAD_BATCH` at a time) and reads their rows at once: a
    server-side cursor costs two more round trips a statement, in which the worker's matches
    wait for the reload. Either way as plain rows on the session's connection: the ORM's
    handling of every row was about a third of a full load.
    """
    connection = await session.connection()
    if only is None:
        result = await connection.stream(statement.execution_options(yield_per=STREAM_BATCH))
        async for batch in result.partitions():
            for row in batch:
                yield row
    else:
        for row in await connection.execute(statement, {"only": only}):
            yield row


def accepted_tier(
    finding: int, computed: int | None, final: int | None, domain: int, rationale: bool
) -> Tier | None:
    """A finding's context-free tier as the registry accepted it, None if it counts for nothing.

    As in `app.evidence.rollup`: the reviewer's final tier is the record's tier, so it sets the
    findings at the record's computed tier and caps the others. The partner's rolled-up tier in
    the domain is the strongest its records earn, so a finding that would count stronger is one
    that overriding unfavorable evidence in another record cancels: as the classifier does, it
    then counts at tier 4 if its study shows a rationale (``rationale``) and not at all
    otherwise.
    """
    if final is not None:
        finding = final if finding == computed else max(finding, final)
    if finding < domain:
        return Tier.RATIONALE if rationale else None
    return Tier(finding)


async def _supports(
    rows: _Rows, tier_pairs: Mapping[uuid.UUID, list[str]], interned: _Interned
) -> dict[uuid.UUID, list[Support]]:
    """One support per accepted record and need domain, at its strongest accepted tier, where
    the partner holds a tier in that domain (``tier_pairs``, its rolled-up tiers as its row
    keeps them: parsed per record rather than held parsed for every partner, which took a
    worker's peak memory up by 3 MB).

    A record's findings share one study, so its in-context tier in a domain is the in-context
    tier of its strongest finding there (`tier_here` never ranks a weaker tier above a stronger
    one), and its overlap is the study's: the engine's answers are those of every finding.
    """
    found: dict[uuid.UUID, list[Support]] = defaultdict(list)
    async for partner_id, evidence_id, computed, final, finding_pairs, *study in rows:
        tiers = dict(partners.numbered(tier_pairs.get(partner_id, ())))
        strongest: dict[str, Tier] = {}
        rationale = all(study[-3:])  # has_logic_model, research_basis, ongoing_evaluation
        for domain, tier in partners.numbered(finding_pairs):
            if (domain_tier := tiers.get(domain)) is None:
                continue
            accepted = accepted_tier(tier, computed, final, domain_tier, rationale)
            if accepted is not None:
                strongest[domain] = min(accepted, strongest.get(domain, accepted))
        if strongest:
            record_study = _study(interned, *study)
            found[partner_id].extend(
                Support(
                    need_domain=domain,
                    evidence_id=str(evidence_id),
                    tier=tier,
                    study=record_study,
                )
                for domain, tier in strongest.items()
            )
    return found


def _study(
    interned: _Interned,
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
        grade_bands=interned(grade_bands),
        locales=interned(locales),
        student_groups=interned(student_groups),
        has_logic_model=has_logic_model,
        research_basis=research_basis,
        ongoing_evaluation=ongoing_evaluation,
        findings=(),
    )


async def _active_engagements(rows: _Rows) -> dict[uuid.UUID, list[date | None]]:
    """The end dates of each partner's active engagements, None for one without."""
    found: defaultdict[uuid.UUID, list[date | None]] = defaultdict(list)
    async for partner_id, end_date in rows:
        found[partner_id].append(end_date)
    return found


async def _due_diligence(rubrics: _Rows, scores: _Rows) -> dict[uuid.UUID, float]:
    """The overall score of each partner's latest approving review (see reviews.scoring).

    The score sheets come in review order and each review is summarised as soon as its last
    sheet has passed: at national scale 18,000 sheets hold 200,000 scores. Rubrics are read
    once, not per review.
    """
    criteria_and_scales = {
        rubric_id: (
            [Criterion(row["code"], row["weight"], row["required"]) for row in criteria],
            (low, high),
        )
        async for rubric_id, criteria, low, high in rubrics
    }
    found: dict[uuid.UUID, float] = {}

    def summarise_review(
        partner_id: uuid.UUID, rubric_id: uuid.UUID, sheets: list[dict[str, int]]
    ) -> None:
        criteria, scale = criteria_and_scales[rubric_id]
        overall = summarise(criteria, scale, sheets).overall
        if overall is not None:
            found[partner_id] = overall

    current: tuple[uuid.UUID, uuid.UUID] | None = None
    sheets: list[dict[str, int]] = []
    async for partner_id, rubric_id, score_pairs in scores:
        if current is not None and current[0] != partner_id:
            summarise_review(*current, sheets)
            sheets = []
        current = (partner_id, rubric_id)
        sheets.append(dict(partners.numbered(score_pairs)))
    if current is not None:
        summarise_review(*current, sheets)
    return found


async def _track_records(rows: _Rows) -> dict[uuid.UUID, float | None]:
    return {
        partner_id: track_record(total, engagements)
        async for partner_id, total, engagements in rows
    }


def _support_order(support: Support) -> tuple[str, str]:
    return support.need_domain, support.evidence_id


async def load_partners(
    session: AsyncSession, only: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, IndexedPartner]:
    """The partners districts may see (of ``only``, when given), as the match index holds them.

    A partner in ``only`` that is missing from the answer is not, or no longer, visible.
    """
    interned = _Interned()
    if only is None:
        return await _load(session, None, interned)
    named = list(only)
    loaded: dict[uuid.UUID, IndexedPartner] = {}
    for start in range(0, len(named), RELOAD_BATCH):
        loaded |= await _load(session, named[start : start + RELOAD_BATCH], interned)
    return loaded


async def _load(
    session: AsyncSession, named: list[uuid.UUID] | None, interned: _Interned
) -> dict[uuid.UUID, IndexedPartner]:
    load = _EVERY_PARTNER if named is None else _SOME_PARTNERS
    rows = [row async for row in _rows(session, load.partners, named)]
    if not rows:
        return {}
    # NULL for none on PostgreSQL.
    tier_pairs = {row.id: row.tier_pairs for row in rows if row.tier_pairs}
    supports = await _supports(_rows(session, load.supports, named), tier_pairs, interned)
    engagements = await _active_engagements(_rows(session, load.engagements, named))
    due_diligence = await _due_diligence(
        _rows(session, load.rubrics, named), _rows(session, load.scores, named)
    )
    track_records = await _track_records(_rows(session, load.check_ins, named))
    loaded = {}
    for (
        partner_id,
        name,
        status,
        approved_at,
        expires_at,
        capacity,
        cost_min,
        cost_max,
        pairs,
        _tier_pairs,
    ) in rows:
        values = partners.facet_values(pairs or ())  # NULL for none on PostgreSQL
        ends = engagements.get(partner_id, [])
        loaded[partner_id] = IndexedPartner(
            status=status,
            approved_at=approved_at,
            expires_at=expires_at,
            candidate=Candidate(
                partner_id=partner_id,
                name=name,
                designated=True,
                need_domains=interned(values.get(Facet.NEED_DOMAIN, ())),
                regions=interned(values.get(Facet.REGION, ())),
                delivery_modes=interned(values.get(Facet.DELIVERY_MODE, ())),
                grade_bands=interned(values.get(Facet.GRADE_BAND, ())),
                locales=interned(values.get(Facet.LOCALE, ())),
                cost_min=cost_min,
                cost_max=cost_max,
                capacity=capacity,
                active_engagements=len(ends),
                due_diligence=due_diligence.get(partner_id),
                track_record=track_records.get(partner_id),
                # In a fixed order, so that a partner loaded twice compares equal.
                supports=tuple(sorted(supports.get(partner_id, ()), key=_support_order)),
                engagement_ends=tuple(sorted(end for end in ends if end is not None)),
            ),
        )
    return loaded
