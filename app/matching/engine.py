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
    at_capacity             active_engagements >= capacity (the places in use on as_of; the
                            caller decides, see `Candidate.active_engagements`)
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
                band or student group with the profile (a profile without grade bands is for
                every grade, so shares any) and setting is 1 when it shares the district's
                locale

Components, each in [0, 1]:

    need_coverage = sum_d p_d * covered_d / sum_d p_d
    evidence      = (1/n) * sum_d strength(t_d)
    due_diligence = the candidate's due-diligence score, 0.5 when unknown
    track_record  = the candidate's track record from its engagements' check-ins
                    (`app.engagements.track_record`), 0.5 when unknown
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
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from functools import cached_property
from operator import attrgetter
from typing import NamedTuple

from app.core.vocabulary import DeliveryMode, GradeBand
from app.evidence.classifier import DistrictContext, Study, Tier, context_overlap, tier_here
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
        return _component_values(self)


@dataclass(frozen=True)
class NeedRequest:
    need_domain: str
    priority: int

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= MAX_PRIORITY:
            raise ValueError(f"priority must be 1..{MAX_PRIORITY}, not {self.priority}")


ALL_GRADE_BANDS = frozenset(band.value for band in GradeBand)


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
    def population_grade_bands(self) -> frozenset[str]:
        """The grade bands a study's population is compared with. A profile that names none
        asks for no restriction, for the whole district or school: every grade band, or a
        district-wide profile could never count a study as tier 1 in its context."""
        return self.grade_bands or ALL_GRADE_BANDS

    @cached_property
    def context(self) -> DistrictContext:
        return DistrictContext(
            grade_bands=self.population_grade_bands,
            student_groups=self.student_groups,
            locales=frozenset({self.locale}),
        )


@dataclass(frozen=True, slots=True)
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
    active_engagements: int  # using a place on the query's as_of; the caller decides
    due_diligence: float | None
    track_record: float | None
    supports: tuple[Support, ...] = ()
    # The end dates of its active engagements that have one, for a caller counting the places
    # in use on a later day (`app.matching.index`); the engine reads active_engagements.
    engagement_ends: tuple[date, ...] = ()

    # Cached on the instance: an in-memory index keeps candidates between matches.
    @cached_property
    def supports_by_domain(self) -> dict[str, tuple[Support, ...]]:
        grouped: dict[str, list[Support]] = {}
        for support in self.supports:
            grouped.setdefault(support.need_domain, []).append(support)
        return {domain: tuple(supports) for domain, supports in grouped.items()}

    def __post_init__(self) -> None:
        for name in ("due_diligence", "track_record"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {value}")


# What the engine builds for each candidate on every match, never changed once built. Not
# frozen: a frozen dataclass sets each field through object.__setattr__, 5 % of a match's
# instructions. What the index holds across requests (Support, Candidate) stays frozen.
@dataclass(slots=True)
class Components:
    need_coverage: float
    evidence: float
    due_diligence: float
    track_record: float
    capacity: float
    context_fit: float

    def as_tuple(self) -> tuple[float, ...]:
        return _component_values(self)


# Weights and components share their names; `dataclasses.astuple` deep-copies, which the
# screening of thousands of candidates per match cannot afford.
_component_values = attrgetter(*(field.name for field in fields(Components)))


@dataclass(slots=True)
class NeedResult:
    need_domain: str
    priority: int
    required_tier: Tier
    served: bool
    covered: bool
    tier: Tier | None  # in the district's context; None when the need is not served
    context_free_tier: Tier | None
    evidence_ids: tuple[str, ...]  # the supports that give `tier`


@dataclass(slots=True)
class Exclusion:
    code: ExclusionCode
    message: str


@dataclass(slots=True)
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


@dataclass(slots=True)
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


class _NeedFit(NamedTuple):
    """A need's tier and overlap for one candidate, from its supports' tiers in context: the
    score reads the first four fields, the explanation the rest."""

    priority: int
    served: bool
    tier: Tier | None  # the best in the district's context
    overlap: float  # the best study overlap
    supports: tuple[Support, ...]  # empty when the need is not served
    tiers_here: tuple[Tier, ...]  # each support's tier in the district's context


def _need_fit(query: NeedsQuery, candidate: Candidate, need: NeedRequest) -> _NeedFit:
    if need.need_domain not in candidate.need_domains:
        return _NeedFit(need.priority, False, None, 0.0, (), ())
    supports = candidate.supports_by_domain.get(need.need_domain, ())
    tiers_here: list[Tier] = []
    overlap = 0.0
    for support in supports:
        population, setting = context_overlap(support.study, query.context)
        tiers_here.append(tier_here(support.tier, population, setting))
        overlap = max(overlap, (population + setting) / 2)
    best = min(tiers_here, default=None)
    return _NeedFit(need.priority, True, best, overlap, supports, tuple(tiers_here))


def _covered(fit: _NeedFit, required: Tier) -> bool:
    return fit.tier is not None and fit.tier <= required


def _components(query: NeedsQuery, candidate: Candidate, fits: Sequence[_NeedFit]) -> Components:
    required = query.required_tier
    total_priority = sum(fit.priority for fit in fits)
    covered_priority = sum(fit.priority for fit in fits if _covered(fit, required))
    capacity_left = (
        min(1.0, max(0.0, (candidate.capacity - candidate.active_engagements) / candidate.capacity))
        if candidate.capacity > 0
        else 0.0
    )
    locale_fit = 1.0 if query.locale in candidate.locales else 0.0
    study_fit = sum(fit.overlap for fit in fits) / len(fits)
    return Components(
        need_coverage=covered_priority / total_priority,
        evidence=sum(_strength(fit.tier) for fit in fits) / len(fits),
        due_diligence=UNKNOWN_SCORE if candidate.due_diligence is None else candidate.due_diligence,
        track_record=UNKNOWN_SCORE if candidate.track_record is None else candidate.track_record,
        capacity=capacity_left,
        context_fit=(locale_fit + study_fit) / 2,
    )


def _score(weights: Weights, components: Components) -> float:
    weighted = sum(
        weight * value
        for weight, value in zip(weights.as_tuple(), components.as_tuple(), strict=True)
    )
    return round(min(1.0, max(0.0, weighted)), SCORE_DIGITS)


def _exclusion_codes(
    query: NeedsQuery, candidate: Candidate, fits: Sequence[_NeedFit]
) -> tuple[ExclusionCode, ...]:
    required = query.required_tier
    virtual = query.accepts_virtual and DeliveryMode.VIRTUAL in candidate.delivery_modes
    failed = (
        (ExclusionCode.DESIGNATION_INACTIVE, not candidate.designated),
        (ExclusionCode.REGION_NOT_SERVED, query.region not in candidate.regions and not virtual),
        (ExclusionCode.GRADE_BAND_NOT_SERVED, not query.grade_bands <= candidate.grade_bands),
        (ExclusionCode.NEED_NOT_SERVED, not any(fit.served for fit in fits)),
        (
            ExclusionCode.EVIDENCE_BELOW_MINIMUM,
            not any(_covered(fit, required) for fit in fits),
        ),
        (ExclusionCode.AT_CAPACITY, candidate.active_engagements >= candidate.capacity),
        (ExclusionCode.OVER_BUDGET, candidate.cost_min > query.budget),
        (
            ExclusionCode.DELIVERY_MODE_MISMATCH,
            bool(query.delivery_modes) and not query.delivery_modes & candidate.delivery_modes,
        ),
    )
    return tuple(code for code, fails in failed if fails)


class _Screened(NamedTuple):
    """A candidate's score and exclusions, without the explanations `evaluate` adds."""

    candidate: Candidate
    fits: list[_NeedFit]
    components: Components
    score: float
    codes: tuple[ExclusionCode, ...]

    @property
    def sort_key(self) -> tuple[float, str, str]:
        return (-self.score, self.candidate.name, str(self.candidate.partner_id))


def _screen(query: NeedsQuery, candidate: Candidate, weights: Weights) -> _Screened:
    fits = [_need_fit(query, candidate, need) for need in query.needs]
    components = _components(query, candidate, fits)
    codes = _exclusion_codes(query, candidate, fits)
    return _Screened(candidate, fits, components, _score(weights, components), codes)


def _need_result(query: NeedsQuery, need: NeedRequest, fit: _NeedFit) -> NeedResult:
    return NeedResult(
        need_domain=need.need_domain,
        priority=need.priority,
        required_tier=query.required_tier,
        served=fit.served,
        covered=_covered(fit, query.required_tier),
        tier=fit.tier,
        context_free_tier=min((support.tier for support in fit.supports), default=None),
        evidence_ids=tuple(
            sorted(
                {
                    support.evidence_id
                    for support, tier in zip(fit.supports, fit.tiers_here, strict=True)
                    if tier == fit.tier
                }
            )
        ),
    )


def _describe_need(need: NeedResult) -> str:
    if not need.served:
        return f"{need.need_domain}: not served"
    # Context only ever weakens a tier, never takes it away: no tier here means none at all.
    if need.tier is None:
        return f"{need.need_domain}: no accepted evidence"
    return f"{need.need_domain}: tier {int(need.tier)} in this district's context"


def _explain(
    code: ExclusionCode, query: NeedsQuery, candidate: Candidate, needs: Sequence[NeedResult]
) -> str:
    match code:
        case ExclusionCode.DESIGNATION_INACTIVE:
            return f"The partner is not designated on {query.as_of.isoformat()}."
        case ExclusionCode.REGION_NOT_SERVED:
            return (
                f"The partner does not serve region {query.region!r} and cannot deliver "
                "virtually to this district."
            )
        case ExclusionCode.GRADE_BAND_NOT_SERVED:
            missing = ", ".join(sorted(query.grade_bands - candidate.grade_bands))
            return f"The partner does not serve grade band(s) {missing}."
        case ExclusionCode.NEED_NOT_SERVED:
            return (
                "The partner serves none of the requested needs "
                f"({', '.join(need.need_domain for need in needs)})."
            )
        case ExclusionCode.EVIDENCE_BELOW_MINIMUM:
            gaps = "; ".join(_describe_need(need) for need in needs)
            return (
                f"Tier {int(query.required_tier)} or stronger, in this district's context, is "
                f"required for at least one requested need ({gaps})."
            )
        case ExclusionCode.AT_CAPACITY:
            return (
                f"The partner has {candidate.active_engagements} active engagement(s) and "
                f"capacity for {candidate.capacity}."
            )
        case ExclusionCode.OVER_BUDGET:
            return (
                f"The partner's lowest cost, {candidate.cost_min} USD per school year, exceeds "
                f"the budget of {query.budget} USD."
            )
        case ExclusionCode.DELIVERY_MODE_MISMATCH:
            return (
                "The partner offers none of the delivery modes asked for "
                f"({', '.join(sorted(query.delivery_modes))})."
            )


def _explained(query: NeedsQuery, screened: _Screened) -> Evaluation:
    candidate = screened.candidate
    needs = tuple(
        _need_result(query, need, fit) for need, fit in zip(query.needs, screened.fits, strict=True)
    )
    return Evaluation(
        partner_id=candidate.partner_id,
        name=candidate.name,
        score=screened.score,
        components=Components(
            *(round(value, SCORE_DIGITS) for value in screened.components.as_tuple())
        ),
        needs=needs,
        exclusions=tuple(
            Exclusion(code, _explain(code, query, candidate, needs)) for code in screened.codes
        ),
    )


def evaluate(query: NeedsQuery, candidate: Candidate, weights: Weights) -> Evaluation:
    """One candidate's score, components, evidence per need and exclusions, explained."""
    return _explained(query, _screen(query, candidate, weights))


def match(
    query: NeedsQuery,
    candidates: Iterable[Candidate],
    weights: Weights | None = None,
    limit: int | None = None,
) -> MatchOutcome:
    """Rank the candidates for ``query``; see the module docstring for every rule.

    Every candidate is screened (score and exclusion codes, as `evaluate` computes them), and
    only those that make one of the two lists are explained: with thousands of candidates,
    the explanations are most of the cost.
    """
    weights = weights or Weights()
    screened = [_screen(query, candidate, weights) for candidate in candidates]
    if len({entry.candidate.partner_id for entry in screened}) != len(screened):
        raise ValueError("each partner may be a candidate once")
    counts = dict.fromkeys(ExclusionCode, 0)
    for entry in screened:
        for code in entry.codes:
            counts[code] += 1
    key = attrgetter("sort_key")
    ranked = sorted((entry for entry in screened if not entry.codes), key=key)[:limit]
    excluded = sorted((entry for entry in screened if entry.codes), key=key)[:limit]
    return MatchOutcome(
        results=tuple(
            RankedPartner(rank, _explained(query, entry))
            for rank, entry in enumerate(ranked, start=1)
        ),
        excluded=tuple(_explained(query, entry) for entry in excluded),
        excluded_counts=counts,
    )
