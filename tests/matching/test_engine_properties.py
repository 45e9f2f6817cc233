"""Invariants of the matching engine over generated profiles and partners."""

import random
import uuid
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.evidence.classifier import Tier, tier_in_context
from app.matching.engine import (
    Candidate,
    NeedRequest,
    NeedsQuery,
    Support,
    Weights,
    evaluate,
    match,
)
from app.needs.vocabulary import FundingSource
from tests.matching.builders import AS_OF, study

DOMAINS = ("staffing", "literacy", "instruction", "data_use")
REGIONS = ("north", "south")
GROUPS = ("english_learners", "special_education", "low_income")


def subsets(values: object) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from([str(value) for value in values]))  # type: ignore[attr-defined]


supports = st.builds(
    Support,
    need_domain=st.sampled_from(DOMAINS),
    evidence_id=st.text("abcdef0123", min_size=1, max_size=4),
    tier=st.sampled_from(Tier),
    study=st.builds(
        study,
        grade_bands=subsets(GradeBand),
        locales=subsets(Locale),
        student_groups=subsets(GROUPS),
    ),
)

weights = st.one_of(
    st.just(Weights()),
    st.lists(st.integers(0, 10), min_size=6, max_size=6)
    .filter(any)
    .map(lambda parts: Weights(*(part / sum(parts) for part in parts))),
)


@st.composite
def queries(draw: st.DrawFn) -> NeedsQuery:
    domains = draw(st.lists(st.sampled_from(DOMAINS), min_size=1, max_size=4, unique=True))
    return NeedsQuery(
        region=draw(st.sampled_from(REGIONS)),
        locale=draw(st.sampled_from([str(locale) for locale in Locale])),
        grade_bands=draw(subsets(GradeBand)),
        student_groups=draw(subsets(GROUPS)),
        needs=tuple(NeedRequest(domain, draw(st.integers(1, 5))) for domain in domains),
        funding_source=draw(st.sampled_from(FundingSource)),
        min_evidence_tier=draw(st.sampled_from(Tier)),
        budget=draw(st.integers(0, 100_000)),
        delivery_modes=draw(subsets(DeliveryMode)),
        as_of=AS_OF,
    )


@st.composite
def candidates(draw: st.DrawFn) -> Candidate:
    cost_min = draw(st.integers(0, 100_000))
    unit = st.one_of(st.none(), st.floats(0, 1))
    return Candidate(
        partner_id=uuid.UUID(int=draw(st.integers(0, 2**64))),
        name=draw(st.sampled_from(["Able", "Baker", "Cedar", "Dune"])),
        designated=draw(st.sampled_from([True, True, True, False])),
        need_domains=draw(subsets(DOMAINS)),
        regions=draw(subsets(REGIONS)),
        delivery_modes=draw(subsets(DeliveryMode)),
        grade_bands=draw(subsets(GradeBand)),
        locales=draw(subsets(Locale)),
        cost_min=cost_min,
        cost_max=cost_min + draw(st.integers(0, 50_000)),
        capacity=draw(st.integers(0, 5)),
        active_engagements=draw(st.integers(0, 6)),
        due_diligence=draw(unit),
        track_record=draw(unit),
        supports=tuple(draw(st.lists(supports, max_size=8))),
    )


strong_tiers = st.sampled_from(
    [Tier.STRONG, Tier.STRONG, Tier.MODERATE, Tier.PROMISING, Tier.RATIONALE]
)


@st.composite
def fitting(draw: st.DrawFn, query: NeedsQuery) -> Candidate:
    """A candidate drawn near the profile, so that many pass and a few miss by one thing."""
    base = draw(candidates())
    own_context = study(
        grade_bands=query.grade_bands, locales=frozenset({query.locale}), student_groups=frozenset()
    )
    evidence = [
        Support(need.need_domain, f"fit-{need.need_domain}", draw(strong_tiers), own_context)
        for need in query.needs
    ]
    return replace(
        base,
        designated=draw(st.sampled_from([True] * 6 + [False])),
        need_domains=base.need_domains | {need.need_domain for need in query.needs},
        regions=base.regions | {query.region},
        grade_bands=base.grade_bands | query.grade_bands,
        delivery_modes=base.delivery_modes | query.delivery_modes,
        capacity=base.active_engagements + draw(st.integers(0, 3)),
        cost_min=min(base.cost_min, query.budget),
        cost_max=max(base.cost_max, query.budget),
        supports=(*base.supports, *evidence),
    )


@st.composite
def scenarios(draw: st.DrawFn, min_size: int = 0) -> tuple[NeedsQuery, list[Candidate]]:
    query = draw(queries())
    one = st.one_of(candidates(), fitting(query), fitting(query))
    pool = draw(st.lists(one, min_size=min_size, max_size=8, unique_by=lambda c: c.partner_id))
    return query, pool


@st.composite
def pairs(draw: st.DrawFn) -> tuple[NeedsQuery, Candidate]:
    query = draw(queries())
    return query, draw(st.one_of(candidates(), fitting(query)))


def _oracle_passes(query: NeedsQuery, candidate: Candidate) -> bool:
    """The hard constraints restated from the rules, independently of the engine's code."""
    virtual_ok = "virtual" in candidate.delivery_modes and (
        not query.delivery_modes or "virtual" in query.delivery_modes
    )
    return (
        candidate.designated
        and any(need.need_domain in candidate.need_domains for need in query.needs)
        and (query.region in candidate.regions or virtual_ok)
        and query.grade_bands <= candidate.grade_bands
        and candidate.active_engagements < candidate.capacity
        and candidate.cost_min <= query.budget
        and (not query.delivery_modes or bool(query.delivery_modes & candidate.delivery_modes))
    )


@given(scenarios(), weights)
def test_results_hold_only_partners_without_any_exclusion(
    scenario: tuple[NeedsQuery, list[Candidate]], weights: Weights
) -> None:
    query, pool = scenario
    outcome = match(query, pool, weights)
    ranked = {result.evaluation.partner_id for result in outcome.results}
    for candidate in pool:
        evaluation = evaluate(query, candidate, weights)
        assert (candidate.partner_id in ranked) == (not evaluation.exclusions)
        if not _oracle_passes(query, candidate):
            assert candidate.partner_id not in ranked
    assert sum(outcome.excluded_counts.values()) == sum(
        len(evaluate(query, candidate, weights).exclusions) for candidate in pool
    )
    assert len(outcome.results) + len(outcome.excluded) == len(pool)


@given(pairs(), weights)
def test_scores_and_components_stay_in_the_unit_interval(
    pair: tuple[NeedsQuery, Candidate], weights: Weights
) -> None:
    query, candidate = pair
    evaluation = evaluate(query, candidate, weights)
    assert 0.0 <= evaluation.score <= 1.0
    assert all(0.0 <= value <= 1.0 for value in evaluation.components.as_tuple())


@given(pairs(), weights, st.data())
def test_raising_a_covered_needs_priority_never_lowers_the_score(
    pair: tuple[NeedsQuery, Candidate], weights: Weights, data: st.DataObject
) -> None:
    query, candidate = pair
    before = evaluate(query, candidate, weights)
    index = data.draw(st.integers(0, len(query.needs) - 1))
    need = query.needs[index]
    raised = data.draw(st.integers(need.priority, 5))
    needs = list(query.needs)
    needs[index] = NeedRequest(need.need_domain, raised)
    after = evaluate(replace(query, needs=tuple(needs)), candidate, weights)
    if before.needs[index].covered:
        assert after.score >= before.score


@given(pairs(), supports, weights)
def test_adding_accepted_evidence_never_lowers_the_score_or_adds_exclusions(
    pair: tuple[NeedsQuery, Candidate], extra: Support, weights: Weights
) -> None:
    query, candidate = pair
    before = evaluate(query, candidate, weights)
    after = evaluate(query, replace(candidate, supports=(*candidate.supports, extra)), weights)
    assert after.score >= before.score
    assert {e.code for e in after.exclusions} <= {e.code for e in before.exclusions}


@given(scenarios(), weights, st.randoms(use_true_random=False))
def test_outcomes_are_deterministic_and_independent_of_candidate_order(
    scenario: tuple[NeedsQuery, list[Candidate]], weights: Weights, rng: random.Random
) -> None:
    query, pool = scenario
    first = match(query, pool, weights)
    assert match(query, pool, weights) == first
    shuffled = list(pool)
    rng.shuffle(shuffled)
    assert match(query, shuffled, weights) == first
    keys = [result.evaluation.sort_key for result in first.results]
    assert keys == sorted(keys)
    assert [result.rank for result in first.results] == list(range(1, len(keys) + 1))


@settings(max_examples=300)
@given(scenarios(min_size=1), weights)
def test_every_covered_need_meets_the_required_tier_in_the_districts_context(
    scenario: tuple[NeedsQuery, list[Candidate]], weights: Weights
) -> None:
    query, pool = scenario
    outcome = match(query, pool, weights)
    ceiling = (
        min(query.min_evidence_tier, Tier.PROMISING)
        if (query.funding_source is FundingSource.TITLE_I_1003)
        else query.min_evidence_tier
    )
    by_id = {candidate.partner_id: candidate for candidate in pool}
    evaluations = [result.evaluation for result in outcome.results] + list(outcome.excluded)
    for evaluation in evaluations:
        candidate = by_id[evaluation.partner_id]
        for need in evaluation.needs:
            in_context = [
                tier_in_context(s.study, s.tier, query.context)[0]
                for s in candidate.supports
                if s.need_domain == need.need_domain and need.need_domain in candidate.need_domains
            ]
            best = min((tier for tier in in_context if tier is not None), default=None)
            assert need.tier == best
            assert need.covered == (best is not None and best <= ceiling)
            if need.covered:
                assert need.need_domain in candidate.need_domains
                assert best is not None
                assert best <= ceiling
                if query.funding_source is FundingSource.TITLE_I_1003:
                    assert best <= Tier.PROMISING
    for result in outcome.results:
        assert any(need.covered for need in result.evaluation.needs)
