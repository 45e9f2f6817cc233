"""The matching engine by example: one table row per exclusion code, and the scoring rules."""

from dataclasses import replace
from typing import Any

import pytest

from app.evidence.classifier import Tier
from app.matching.engine import (
    Components,
    ExclusionCode,
    NeedRequest,
    Weights,
    evaluate,
    match,
)
from app.needs.vocabulary import FundingSource
from tests.matching.builders import candidate, query, support

C = ExclusionCode


def codes(**overrides: Any) -> list[ExclusionCode]:
    query_overrides = overrides.pop("query", {})
    evaluation = evaluate(query(**query_overrides), candidate(**overrides), Weights())
    return [exclusion.code for exclusion in evaluation.exclusions]


def test_the_baseline_partner_passes_every_constraint() -> None:
    assert codes() == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"designated": False}, C.DESIGNATION_INACTIVE),
        ({"regions": frozenset({"south"})}, C.REGION_NOT_SERVED),
        ({"regions": frozenset()}, C.REGION_NOT_SERVED),
        ({"grade_bands": frozenset({"high"})}, C.GRADE_BAND_NOT_SERVED),
        (
            {"query": {"grade_bands": frozenset({"elementary", "high"})}},
            C.GRADE_BAND_NOT_SERVED,
        ),
        ({"supports": ()}, C.EVIDENCE_BELOW_MINIMUM),
        (
            {
                "query": {"min_evidence_tier": Tier.STRONG},
                "supports": (support("staffing", Tier.MODERATE),),
            },
            C.EVIDENCE_BELOW_MINIMUM,
        ),
        ({"active_engagements": 4}, C.AT_CAPACITY),
        ({"capacity": 0, "active_engagements": 0}, C.AT_CAPACITY),
        ({"cost_min": 50_001, "cost_max": 60_000}, C.OVER_BUDGET),
        ({"delivery_modes": frozenset({"hybrid"})}, C.DELIVERY_MODE_MISMATCH),
    ],
)
def test_each_hard_constraint_excludes_with_its_own_code(
    overrides: dict[str, Any], expected: ExclusionCode
) -> None:
    assert codes(**overrides) == [expected]


def test_every_applicable_reason_is_reported_in_code_order() -> None:
    found = codes(
        designated=False,
        need_domains=frozenset(),
        regions=frozenset(),
        grade_bands=frozenset(),
        supports=(),
        active_engagements=4,
        cost_min=90_000,
        cost_max=90_000,
        delivery_modes=frozenset({"hybrid"}),
    )
    assert found == list(ExclusionCode)


def test_virtual_delivery_waives_the_region_when_the_district_accepts_it() -> None:
    virtual = {"regions": frozenset({"south"}), "delivery_modes": frozenset({"virtual"})}
    assert codes(**virtual, query={"delivery_modes": frozenset({"virtual", "onsite"})}) == []
    assert codes(**virtual, query={"delivery_modes": frozenset()}) == []
    assert codes(**virtual) == [C.REGION_NOT_SERVED, C.DELIVERY_MODE_MISMATCH]


def test_a_budget_that_covers_the_cheapest_offer_is_enough() -> None:
    assert codes(cost_min=50_000, cost_max=90_000) == []


def test_a_partner_serving_none_of_the_needs_is_ruled_out_for_that_reason() -> None:
    assert codes(need_domains=frozenset({"instruction"})) == [
        C.NEED_NOT_SERVED,
        C.EVIDENCE_BELOW_MINIMUM,
    ]


def test_evidence_in_a_domain_the_partner_does_not_serve_covers_nothing() -> None:
    evaluation = evaluate(query(), candidate(need_domains=frozenset({"literacy"})), Weights())
    staffing, literacy = evaluation.needs
    assert (staffing.served, staffing.covered, staffing.tier, staffing.evidence_ids) == (
        False,
        False,
        None,
        (),
    )
    assert (literacy.served, literacy.covered) == (True, True)
    assert evaluation.exclusions == ()
    assert evaluation.components.need_coverage == round(2 / 7, 6)


def test_a_partial_fit_ranks_with_its_share_of_the_priorities() -> None:
    only_literacy = candidate(supports=(support("literacy", Tier.PROMISING),))
    evaluation = evaluate(query(), only_literacy, Weights())
    assert evaluation.exclusions == ()
    assert [need.covered for need in evaluation.needs] == [False, True]
    assert evaluation.components.need_coverage == round(2 / 7, 6)
    full = evaluate(query(), candidate(), Weights())
    assert full.components.need_coverage == 1.0
    assert full.score > evaluation.score


def test_section_1003_money_needs_tier_3_even_when_the_district_accepts_tier_4() -> None:
    tier_4_only = {
        "supports": (support("staffing", Tier.RATIONALE), support("literacy", Tier.RATIONALE))
    }
    assert codes(**tier_4_only) == []
    assert codes(**tier_4_only, query={"funding_source": FundingSource.TITLE_I_1003}) == [
        C.EVIDENCE_BELOW_MINIMUM
    ]
    mixed = candidate(
        supports=(support("staffing", Tier.STRONG), support("literacy", Tier.RATIONALE))
    )
    evaluation = evaluate(query(funding_source=FundingSource.TITLE_I_1003), mixed, Weights())
    assert evaluation.exclusions == ()
    assert [need.covered for need in evaluation.needs] == [True, False]
    assert query(funding_source=FundingSource.TITLE_I_1003).required_tier is Tier.PROMISING
    assert (
        query(
            funding_source=FundingSource.TITLE_I_1003, min_evidence_tier=Tier.STRONG
        ).required_tier
        is Tier.STRONG
    )


def test_evidence_counts_in_the_districts_context() -> None:
    elsewhere = support(
        "staffing", Tier.STRONG, grade_bands=frozenset({"high"}), locales=frozenset({"rural"})
    )
    base = candidate(supports=(elsewhere,))
    evaluation = evaluate(query(min_evidence_tier=Tier.MODERATE), base, Weights())
    staffing = evaluation.needs[0]
    assert (staffing.context_free_tier, staffing.tier, staffing.covered) == (
        Tier.STRONG,
        Tier.PROMISING,
        False,
    )
    [exclusion] = evaluation.exclusions
    assert exclusion.code is C.EVIDENCE_BELOW_MINIMUM
    assert "staffing: tier 3 in this district's context" in exclusion.message
    assert "literacy: no accepted evidence" in exclusion.message
    assert "literacy: no accepted evidence in" not in exclusion.message


def test_a_profile_without_grade_bands_is_for_every_grade() -> None:
    """No grade bands asks for no restriction: a study of any grade band shares its population,
    as one of no grade band (nothing known) does not."""
    of_high_schools = support("staffing", Tier.STRONG, grade_bands=frozenset({"high"}))
    unknown = support("staffing", Tier.STRONG, grade_bands=frozenset())
    district_wide = query(grade_bands=frozenset(), student_groups=frozenset())

    tiers = [
        evaluate(district_wide, candidate(supports=(study,)), Weights()).needs[0].tier
        for study in (of_high_schools, unknown)
    ]

    assert tiers == [Tier.STRONG, Tier.MODERATE]


def test_need_results_name_the_evidence_behind_the_best_tier() -> None:
    supports = (
        support("staffing", Tier.MODERATE, "ev-b"),
        support("staffing", Tier.MODERATE, "ev-a"),
        support("staffing", Tier.PROMISING, "ev-c"),
    )
    evaluation = evaluate(
        query(needs=(NeedRequest("staffing", 3),)), candidate(supports=supports), Weights()
    )
    [need] = evaluation.needs
    assert need.tier is Tier.MODERATE
    assert need.evidence_ids == ("ev-a", "ev-b")


def test_components_follow_the_documented_formulas() -> None:
    evaluation = evaluate(
        query(min_evidence_tier=Tier.MODERATE),
        candidate(
            supports=(
                support("staffing", Tier.STRONG),
                support("literacy", Tier.PROMISING, grade_bands=frozenset({"high"})),
            ),
            track_record=None,
        ),
        Weights(),
    )
    # staffing (priority 5) covered at tier 1; literacy (priority 2) at tier 3, below tier 2.
    assert evaluation.components == Components(
        need_coverage=round(5 / 7, 6),
        evidence=(1.0 + 0.5) / 2,
        due_diligence=0.8,
        track_record=0.5,
        capacity=3 / 4,
        context_fit=(1.0 + (1.0 + 0.5) / 2) / 2,
    )
    expected = sum(
        w * c for w, c in zip(Weights().as_tuple(), evaluation.components.as_tuple(), strict=True)
    )
    assert evaluation.score == pytest.approx(expected, abs=1e-6)


def test_ranking_sorts_by_score_then_name_and_keeps_nearest_misses() -> None:
    strong = candidate(name="Zeta", due_diligence=1.0)
    tie_a = candidate(name="Alpha", due_diligence=0.5)
    tie_b = candidate(name="Beta", due_diligence=0.5)
    busy = candidate(name="Busy", due_diligence=1.0, active_engagements=4)
    far = candidate(name="Far", regions=frozenset({"south"}), due_diligence=0.1)
    outcome = match(query(), [far, tie_b, busy, strong, tie_a])
    assert [(r.rank, r.evaluation.name) for r in outcome.results] == [
        (1, "Zeta"),
        (2, "Alpha"),
        (3, "Beta"),
    ]
    assert [e.name for e in outcome.excluded] == ["Busy", "Far"]
    assert outcome.excluded_counts[C.AT_CAPACITY] == 1
    assert outcome.excluded_counts[C.REGION_NOT_SERVED] == 1
    assert outcome.excluded_counts[C.OVER_BUDGET] == 0

    limited = match(query(), [far, tie_b, busy, strong, tie_a], limit=1)
    assert [r.evaluation.name for r in limited.results] == ["Zeta"]
    assert [e.name for e in limited.excluded] == ["Busy"]
    assert limited.excluded_counts == outcome.excluded_counts


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        Weights(need_coverage=0.5)
    with pytest.raises(ValueError, match="non-negative"):
        Weights(need_coverage=1.3, evidence=-0.3)
    with pytest.raises(ValueError, match="priority"):
        NeedRequest("staffing", 6)
    with pytest.raises(ValueError, match="once"):
        query(needs=(NeedRequest("staffing", 1), NeedRequest("staffing", 2)))
    with pytest.raises(ValueError, match="at least one"):
        query(needs=())
    with pytest.raises(ValueError, match="due_diligence"):
        candidate(due_diligence=1.5)
    twin = candidate()
    with pytest.raises(ValueError, match="once"):
        match(query(), [twin, replace(twin, name="Other")])
