"""Explainable matching of partners to a district's needs profile: pure rules, no I/O.

The caller builds the inputs from the database (a `NeedsQuery` and one `Candidate` per
partner, each with the `Support` of its accepted evidence); `match` returns plain data that
can be stored and served unchanged. Tiers are numbers where smaller is stronger, so the
stricter of two tiers is their minimum.

Hard constraints. A candidate failing any of them is excluded, with every reason that applies
(codes in `ExclusionCode` order):

    designation_inactive    not designated on as_of (a partner renewing a term that still runs
                            counts as designated; the caller decides, see `Candidate.designated`)
    region_not_served       query.region not in candidate.regions, unless the district accepts
                            virtual delivery (it names no delivery mode, or names virtual) and the
                            partner delivers virtually
    grade_band_not_served   some grade band of the profile is not in candidate.grade_bands
    need_not_served         the partner serves none of the requested needs (its need domains)
    evidence_below_minimum  the partner covers none of the requested needs (see below); always
                            reported together with need_not_served, which is the cause then
    at_capacity             active_engagements >= capacity
    over_budget             cost_min > budget (the partner's cheapest offer costs too much)
    delivery_mode_mismatch  the profile names delivery modes and the partner offers none of them

Evidence, for each requested need d with priority p_d (1..5) among n needs. A partner is a
candidate for the needs it serves (its need domains); a need it does not serve has no tier for
it, whatever evidence it holds in that domain:

    R         = min(min_evidence_tier, 3) for title_i_1003 funds (ESEA section 1003 admits
                tiers 1-3 only), else min_evidence_tier
    served_d  = d in candidate.need_domains
    t_d       = min over the candidate's supports s in d of
                classifier.tier_in_context(s.study, s.tier, district context) when served_d;
                None without one, or when d is not served
    covered_d = t_d is not None and t_d <= R
    strength  = (5 - t) / 4: tier 1 -> 1, 2 -> 0.75, 3 -> 0.5, 4 -> 0.25; no tier -> 0
    overlap_s = (population + setting) / 2, where population is 1 when the study shares a grade
                band or student group with the profile and setting is 1 when it shares the
                district's locale

Components, each in [0, 1]:

    need_coverage = sum_d p_d * covered_d / sum_d p_d
    evidence      = (1/n) * sum_d strength(t_d)
    due_diligence = the candidate's due-diligence score, 0.5 when unknown
    track_record  = the candidate's track record, 0.5 when unknown
    capacity      = (capacity - active_engagements) / capacity, clamped to [0, 1]; 0 when
                    capacity is 0
    context_fit   = (locale_fit + study_fit) / 2, where locale_fit is 1 when the partner
                    works in the district's locale and study_fit = (1/n) * sum_d max_s overlap_s
                    (0 for a need without supports or not served)

    score = sum_k weight_k * component_k, rounded to 6 decimals (`Weights` are non-negative and
            sum to 1, so the score stays in [0, 1])

Why these shapes: a district asking for several needs is best served by ranking the partners
that cover most of its priorities first, so a partial fit ranks (with need_coverage < 1) rather
than vanishing; only a partner covering nothing is ruled out. Priority enters only through
need_coverage, where raising a covered need's priority by q turns C/P into (C + q)/(P + q) >=
C/P; a priority-weighted mean of evidence strengths would instead fall when the raised need's
evidence is weaker than the partner's average. Every evidence term is a minimum tier or a
maximum overlap per need, so adding accepted evidence never lowers a component, never uncovers
a need and never adds an exclusion. Unknown due diligence and track record count as 0.5:
neither rewarded nor punished.

Order: results are the candidates with no exclusion, by score descending, then name, then
partner id; rank is the 1-based position. The nearest misses are the excluded candidates in
the same order. Both lists are cut to `limit`; `excluded_counts` counts every exclusion of
every candidate. The outcome is a function of the inputs alone, whatever the candidates' order.
"""

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property

from app.core.vocabulary import DeliveryMode
from app.evidence.classifier import DistrictContext, Study, Tier, tier_in_context
from app.needs.vocabulary import FundingSource

UNKNOWN_SCORE = 0.5
SECTION_1003_TIER = Tier.PROMISING
MAX_PRIORITY = 5
SCORE_DIGITS = 6


class ExclusionCode(StrEnum):
    DESIGNATION_INACTIVE = "designation_inactive"
    REGION_NOT_SERVED = "region_not_served"
    GRADE_BAND_NOT_SERVED = "grade_band_not_served"
    NEED_NOT_SERVED = "need_not_served"
    EVIDENCE_BELOW_MINIMUM = "evidence_below_minimum"
    AT_CAPACITY = "at_capacity"
    OVER_BUDGET = "over_budget"
    DELIVERY_MODE_MISMATCH = "delivery_mode_mismatch"


@dataclass(frozen=True)
class Weights:
    need_coverage: float = 0.30
    evidence: float = 0.25
    due_diligence: float = 0.15
    track_record: float = 0.10
    capacity: float = 0.10
    context_fit: float = 0.10

    def __post_init__(self) -> None:
        values = self.as_tuple()
        if any(value < 0 or not math.isfinite(value) for value in values):
            raise ValueError("weights must be finite and non-negative")
        if not math.isclose(sum(values), 1.0, abs_tol=1e-9):
            raise ValueError(f"weights must sum to 1, not {sum(values)}")

    def as_tuple(self) -> tuple[float, ...]:
        return astuple(self)


@dataclass(frozen=True)
class NeedRequest:
    need_domain: str
    priority: int

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= MAX_PRIORITY:
            raise ValueError(f"priority must be 1..{MAX_PRIORITY}, not {self.priority}")


@dataclass(frozen=True)
class NeedsQuery:
    region: str
    locale: str
    grade_bands: frozenset[str]
    student_groups: frozenset[str]
    needs: tuple[NeedRequest, ...]
    funding_source: FundingSource
    min_evidence_tier: Tier
    budget: int
    delivery_modes: frozenset[str]
    as_of: date

    def __post_init__(self) -> None:
        domains = [need.need_domain for need in self.needs]
        if not domains:
            raise ValueError("a needs query names at least one need")
        if len(set(domains)) != len(domains):
            raise ValueError("each need domain may appear once")

    # Cached: read once per candidate in the hot loop, and the query never changes.
    @cached_property
    def required_tier(self) -> Tier:
        if self.funding_source is FundingSource.TITLE_I_1003:
            return min(self.min_evidence_tier, SECTION_1003_TIER)
        return self.min_evidence_tier

    @property
    def accepts_virtual(self) -> bool:
        return not self.delivery_modes or DeliveryMode.VIRTUAL in self.delivery_modes

    @cached_property
    def context(self) -> DistrictContext:
        return DistrictContext(
            grade_bands=self.grade_bands,
            student_groups=self.student_groups,
            locales=frozenset({self.locale}),
        )


@dataclass(frozen=True)
class Support:
    """One accepted finding's tier in a need domain, with the study it came from.

    Matching reads only the study's population and setting, so its findings may be left out.
    """

    need_domain: str
    evidence_id: str
    tier: Tier  # context-free, as the reviewer accepted it
    study: Study


@dataclass(frozen=True)
class Candidate:
    partner_id: uuid.UUID
    name: str
    designated: bool  # on the query's as_of, renewals of a running term included
    need_domains: frozenset[str]
    regions: frozenset[str]
    delivery_modes: frozenset[str]
    grade_bands: frozenset[str]
    locales: frozenset[str]
    cost_min: int
    cost_max: int
    capacity: int
    active_engagements: int
    due_diligence: float | None
    track_record: float | None
    supports: tuple[Support, ...] = ()

    def __post_init__(self) -> None:
        for name in ("due_diligence", "track_record"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {value}")


@dataclass(frozen=True)
class Components:
    need_coverage: float
    evidence: float
    due_diligence: float
    track_record: float
    capacity: float
    context_fit: float

    def as_tuple(self) -> tuple[float, ...]:
        return astuple(self)


@dataclass(frozen=True)
class NeedResult:
    need_domain: str
    priority: int
    required_tier: Tier
    served: bool
    covered: bool
    tier: Tier | None  # in the district's context; None when the need is not served
    context_free_tier: Tier | None
    evidence_ids: tuple[str, ...]  # the supports that give `tier`


@dataclass(frozen=True)
class Exclusion:
    code: ExclusionCode
    message: str


@dataclass(frozen=True)
class Evaluation:
    partner_id: uuid.UUID
    name: str
    score: float
    components: Components
    needs: tuple[NeedResult, ...]
    exclusions: tuple[Exclusion, ...]

    @property
    def sort_key(self) -> tuple[float, str, str]:
        return (-self.score, self.name, str(self.partner_id))


@dataclass(frozen=True)
class RankedPartner:
    rank: int
    evaluation: Evaluation


@dataclass(frozen=True)
class MatchOutcome:
    results: tuple[RankedPartner, ...]
    excluded: tuple[Evaluation, ...]  # the nearest misses
    excluded_counts: Mapping[ExclusionCode, int]  # every code, zero included


def _strength(tier: Tier | None) -> float:
    return 0.0 if tier is None else (5 - tier) / 4


def _overlap(study: Study, context: DistrictContext) -> float:
    population = bool(
        study.grade_bands & context.grade_bands or study.student_groups & context.student_groups
    )
    setting = bool(study.locales & context.locales)
    return (population + setting) / 2


def _describe_tier(tier: Tier | None) -> str:
    return "no accepted evidence" if tier is None else f"tier {int(tier)}"


def _need_results(query: NeedsQuery, candidate: Candidate) -> tuple[tuple[NeedResult, ...], float]:
    """Each requested need's evidence in the district's context, and the mean study overlap."""
    context = query.context
    required = query.required_tier
    by_domain: dict[str, list[Support]] = {}
    for support in candidate.supports:
        by_domain.setdefault(support.need_domain, []).append(support)
    results = []
    overlap_total = 0.0
    for need in query.needs:
        served = need.need_domain in candidate.need_domains
        supports = by_domain.get(need.need_domain, []) if served else []
        in_context = [
            (tier_in_context(s.study, s.tier, context)[0], s.evidence_id) for s in supports
        ]
        best = min((tier for tier, _id in in_context if tier is not None), default=None)
        results.append(
            NeedResult(
                need_domain=need.need_domain,
                priority=need.priority,
                required_tier=required,
                served=served,
                covered=best is not None and best <= required,
                tier=best,
                context_free_tier=min((s.tier for s in supports), default=None),
                evidence_ids=tuple(sorted(id_ for tier, id_ in in_context if tier == best)),
            )
        )
        overlap_total += max((_overlap(s.study, context) for s in supports), default=0.0)
    return tuple(results), overlap_total / len(query.needs)


def _components(
    query: NeedsQuery, candidate: Candidate, needs: Sequence[NeedResult], study_fit: float
) -> Components:
    total_priority = sum(need.priority for need in needs)
    covered_priority = sum(need.priority for need in needs if need.covered)
    capacity_left = (
        min(1.0, max(0.0, (candidate.capacity - candidate.active_engagements) / candidate.capacity))
        if candidate.capacity > 0
        else 0.0
    )
    locale_fit = 1.0 if query.locale in candidate.locales else 0.0
    return Components(
        need_coverage=covered_priority / total_priority,
        evidence=sum(_strength(need.tier) for need in needs) / len(needs),
        due_diligence=UNKNOWN_SCORE if candidate.due_diligence is None else candidate.due_diligence,
        track_record=UNKNOWN_SCORE if candidate.track_record is None else candidate.track_record,
        capacity=capacity_left,
        context_fit=(locale_fit + study_fit) / 2,
    )


def _describe_need(need: NeedResult) -> str:
    if not need.served:
        return f"{need.need_domain}: not served"
    return f"{need.need_domain}: {_describe_tier(need.tier)} in this district's context"


def _exclusions(
    query: NeedsQuery, candidate: Candidate, needs: Sequence[NeedResult]
) -> tuple[Exclusion, ...]:
    found: list[Exclusion] = []
    if not candidate.designated:
        found.append(
            Exclusion(
                ExclusionCode.DESIGNATION_INACTIVE,
                f"The partner is not designated on {query.as_of.isoformat()}.",
            )
        )
    virtual = query.accepts_virtual and DeliveryMode.VIRTUAL in candidate.delivery_modes
    if query.region not in candidate.regions and not virtual:
        found.append(
            Exclusion(
                ExclusionCode.REGION_NOT_SERVED,
                f"The partner does not serve region {query.region!r} and cannot deliver "
                "virtually to this district.",
            )
        )
    missing_bands = sorted(query.grade_bands - candidate.grade_bands)
    if missing_bands:
        found.append(
            Exclusion(
                ExclusionCode.GRADE_BAND_NOT_SERVED,
                f"The partner does not serve grade band(s) {', '.join(missing_bands)}.",
            )
        )
    if not any(need.served for need in needs):
        found.append(
            Exclusion(
                ExclusionCode.NEED_NOT_SERVED,
                "The partner serves none of the requested needs "
                f"({', '.join(need.need_domain for need in needs)}).",
            )
        )
    if not any(need.covered for need in needs):
        gaps = "; ".join(_describe_need(need) for need in needs)
        found.append(
            Exclusion(
                ExclusionCode.EVIDENCE_BELOW_MINIMUM,
                f"Tier {int(query.required_tier)} or stronger, in this district's context, is "
                f"required for at least one requested need ({gaps}).",
            )
        )
    if candidate.active_engagements >= candidate.capacity:
        found.append(
            Exclusion(
                ExclusionCode.AT_CAPACITY,
                f"The partner has {candidate.active_engagements} active engagement(s) and "
                f"capacity for {candidate.capacity}.",
            )
        )
    if candidate.cost_min > query.budget:
        found.append(
            Exclusion(
                ExclusionCode.OVER_BUDGET,
                f"The partner's lowest cost, {candidate.cost_min} USD per school year, exceeds "
                f"the budget of {query.budget} USD.",
            )
        )
    if query.delivery_modes and not query.delivery_modes & candidate.delivery_modes:
        found.append(
            Exclusion(
                ExclusionCode.DELIVERY_MODE_MISMATCH,
                f"The partner offers none of the delivery modes asked for "
                f"({', '.join(sorted(query.delivery_modes))}).",
            )
        )
    return tuple(found)


def evaluate(query: NeedsQuery, candidate: Candidate, weights: Weights) -> Evaluation:
    """One candidate's score, components, evidence per need and exclusions."""
    needs, study_fit = _need_results(query, candidate)
    components = _components(query, candidate, needs, study_fit)
    weighted = sum(
        weight * value
        for weight, value in zip(weights.as_tuple(), components.as_tuple(), strict=True)
    )
    return Evaluation(
        partner_id=candidate.partner_id,
        name=candidate.name,
        score=round(min(1.0, max(0.0, weighted)), SCORE_DIGITS),
        components=Components(*(round(value, SCORE_DIGITS) for value in components.as_tuple())),
        needs=needs,
        exclusions=_exclusions(query, candidate, needs),
    )


def match(
    query: NeedsQuery,
    candidates: Iterable[Candidate],
    weights: Weights | None = None,
    limit: int | None = None,
) -> MatchOutcome:
    """Rank the candidates for ``query``; see the module docstring for every rule."""
    weights = weights or Weights()
    evaluations = [evaluate(query, candidate, weights) for candidate in candidates]
    if len({evaluation.partner_id for evaluation in evaluations}) != len(evaluations):
        raise ValueError("each partner may be a candidate once")
    evaluations.sort(key=lambda evaluation: evaluation.sort_key)
    counts = dict.fromkeys(ExclusionCode, 0)
    for evaluation in evaluations:
        for exclusion in evaluation.exclusions:
            counts[exclusion.code] += 1
    ranked = [evaluation for evaluation in evaluations if not evaluation.exclusions]
    excluded = [evaluation for evaluation in evaluations if evaluation.exclusions]
    return MatchOutcome(
        results=tuple(
            RankedPartner(rank, evaluation)
            for rank, evaluation in enumerate(ranked[:limit], start=1)
        ),
        excluded=tuple(excluded[:limit]),
        excluded_counts=counts,
    )
