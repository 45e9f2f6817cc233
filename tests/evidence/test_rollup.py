"""The partner roll-up with reviewers' final tiers (app.evidence.rollup)."""

from dataclasses import replace

from app.evidence.classifier import (
    Design,
    Direction,
    Finding,
    StandardsRating,
    Study,
    Tier,
    classify,
    roll_up,
)
from app.evidence.rollup import partner_tiers

STRONG = Finding("staffing", "retention", Direction.FAVORABLE, significant=True)
STUDY = Study(
    design=Design.RCT,
    standards_rating=StandardsRating.MEETS_WITHOUT_RESERVATIONS,
    controls_for_selection_bias=True,
    sample_size=1000,
    site_count=5,
    grade_bands=frozenset({"elementary"}),
    locales=frozenset({"city"}),
    student_groups=frozenset(),
    has_logic_model=False,
    research_basis=False,
    ongoing_evaluation=False,
    findings=(STRONG, replace(STRONG, need_domain="literacy", sample_size=100)),
)


def test_final_equal_to_computed_is_the_classifier_roll_up() -> None:
    weaker = replace(STUDY, site_count=1)
    records = [(STUDY, classify(STUDY).tier), (weaker, classify(weaker).tier)]
    assert partner_tiers(records) == roll_up([STUDY, weaker])


def test_a_lower_final_tier_caps_every_domain() -> None:
    assert partner_tiers([(STUDY, Tier.RATIONALE)]) == {"staffing": 4, "literacy": 4}
    assert partner_tiers([(STUDY, Tier.MODERATE)]) == {"staffing": 2, "literacy": 3}


def test_a_higher_final_tier_raises_only_the_strongest_domains() -> None:
    study = replace(
        STUDY,
        site_count=1,
        has_logic_model=True,
        research_basis=True,
        ongoing_evaluation=True,
        findings=(STRONG, replace(STRONG, need_domain="literacy", subgroup=True)),
    )
    assert roll_up([study]) == {"staffing": 3, "literacy": 4}
    assert partner_tiers([(study, Tier.STRONG)]) == {"staffing": 1, "literacy": 4}


def test_overriding_evidence_in_another_record_beats_the_reviewers_tier() -> None:
    harmful = replace(
        STUDY, findings=(replace(STRONG, direction=Direction.UNFAVORABLE, outcome="exits"),)
    )
    tiers = partner_tiers([(STUDY, Tier.STRONG), (harmful, None)])
    assert "staffing" not in tiers
    assert tiers["literacy"] == Tier.PROMISING


def test_a_raised_tier_4_record_stays_tier_4_under_another_records_override() -> None:
    """Overriding evidence leaves tier 4 unchanged, which hid it: a reviewer who raised a
    rationale-only record to tier 2 brought back what another record's harm cancels."""
    rationale_only = replace(
        STUDY,
        has_logic_model=True,
        research_basis=True,
        ongoing_evaluation=True,
        findings=(replace(STRONG, significant=False),),
    )
    assert classify(rationale_only).tier == Tier.RATIONALE
    assert partner_tiers([(rationale_only, Tier.MODERATE)]) == {"staffing": 2}
    harmful = replace(
        STUDY, findings=(replace(STRONG, direction=Direction.UNFAVORABLE, outcome="exits"),)
    )
    assert partner_tiers([(rationale_only, Tier.MODERATE), (harmful, None)]) == {"staffing": 4}


def test_a_records_own_overriding_finding_is_before_its_reviewer() -> None:
    """The reviewer saw the record's own unfavorable finding and judged the record with it."""
    mixed = replace(
        STUDY,
        has_logic_model=True,
        research_basis=True,
        ongoing_evaluation=True,
        findings=(STRONG, replace(STRONG, direction=Direction.UNFAVORABLE, outcome="exits")),
    )
    assert classify(mixed).tier == Tier.RATIONALE
    assert partner_tiers([(mixed, Tier.MODERATE)]) == {"staffing": 2}
