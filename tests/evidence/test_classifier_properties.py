"""Properties of the ESSA classifier that must hold for any study."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from app.evidence.classifier import (
    MEETS_STANDARDS,
    Design,
    Direction,
    DistrictContext,
    Finding,
    ReasonCode,
    StandardsRating,
    Study,
    Thresholds,
    Tier,
    classify,
    classify_finding,
    classify_in_context,
    roll_up,
    tier_in_context,
)

DOMAINS = ("literacy", "mathematics", "graduation")
BANDS = ("prek", "elementary", "middle", "high")
LOCALES = ("city", "suburb", "town", "rural")
GROUPS = ("english_learners", "students_with_disabilities")
REASON_ORDER = list(ReasonCode)

sizes = st.one_of(st.none(), st.integers(min_value=0, max_value=2000))
findings = st.builds(
    Finding,
    need_domain=st.sampled_from(DOMAINS),
    outcome=st.text(max_size=10),
    direction=st.sampled_from(Direction),
    significant=st.booleans(),
    effect_size=st.none() | st.floats(-2, 2),
    p_value=st.none() | st.floats(0, 1),
    sample_size=sizes,
    subgroup=st.booleans(),
)
studies = st.builds(
    Study,
    design=st.sampled_from(Design),
    standards_rating=st.sampled_from(StandardsRating),
    controls_for_selection_bias=st.booleans(),
    sample_size=sizes,
    site_count=st.one_of(st.none(), st.integers(min_value=0, max_value=20)),
    grade_bands=st.frozensets(st.sampled_from(BANDS)),
    locales=st.frozensets(st.sampled_from(LOCALES)),
    student_groups=st.frozensets(st.sampled_from(GROUPS)),
    has_logic_model=st.booleans(),
    research_basis=st.booleans(),
    ongoing_evaluation=st.booleans(),
    findings=st.lists(findings, max_size=5).map(tuple),
)
contexts = st.builds(
    DistrictContext,
    grade_bands=st.frozensets(st.sampled_from(BANDS)),
    student_groups=st.frozensets(st.sampled_from(GROUPS)),
    locales=st.frozensets(st.sampled_from(LOCALES)),
)
thresholds = st.builds(
    Thresholds,
    min_sample_size=st.integers(min_value=0, max_value=1000),
    min_sites=st.integers(min_value=0, max_value=5),
)


def rank(tier: Tier | None) -> int:
    """Lower is stronger; None is weakest."""
    return 5 if tier is None else int(tier)


def has_rationale(study: Study) -> bool:
    return study.has_logic_model and study.research_basis and study.ongoing_evaluation


@given(studies, findings, thresholds)
def test_tiers_follow_the_definitions(study: Study, finding: Finding, limits: Thresholds) -> None:
    result = classify_finding(study, finding, limits)
    size = finding.sample_size if finding.sample_size is not None else study.sample_size
    large = size is not None and size >= limits.min_sample_size
    multisite = study.site_count is not None and study.site_count >= limits.min_sites
    sig_plus = finding.significant and finding.direction is Direction.FAVORABLE
    eligible = sig_plus and not finding.subgroup
    meets = study.standards_rating in MEETS_STANDARDS
    if result.tier == Tier.STRONG:
        assert eligible
        assert large
        assert multisite
        assert study.design is Design.RCT
        assert study.standards_rating is StandardsRating.MEETS_WITHOUT_RESERVATIONS
    if result.tier == Tier.MODERATE:
        assert eligible
        assert large
        assert multisite
        assert meets
        assert study.design in {Design.RCT, Design.QED, Design.RDD}
    if result.tier == Tier.PROMISING:
        assert eligible
        assert meets or study.controls_for_selection_bias
    if result.tier == Tier.RATIONALE:
        assert has_rationale(study)
    if result.tier is None:
        assert not has_rationale(study)
    if eligible and (meets or study.controls_for_selection_bias):
        assert rank(result.tier) <= Tier.PROMISING


@given(studies, findings, thresholds)
def test_reasons_explain_exactly_the_missing_strength(
    study: Study, finding: Finding, limits: Thresholds
) -> None:
    result = classify_finding(study, finding, limits)
    found = [reason.code for reason in result.reasons]
    assert (result.tier == Tier.STRONG) == (not found)
    assert found == sorted(set(found), key=REASON_ORDER.index)
    assert all(reason.message.endswith(".") for reason in result.reasons)
    if finding.subgroup:
        assert ReasonCode.SUBGROUP_FINDING in found


@given(studies, findings, thresholds, st.integers(min_value=0, max_value=5000))
def test_more_sample_or_sites_never_lowers_a_tier(
    study: Study, finding: Finding, limits: Thresholds, extra: int
) -> None:
    before = classify_finding(study, finding, limits).tier
    bigger = replace(
        study,
        sample_size=None if study.sample_size is None else study.sample_size + extra,
        site_count=(study.site_count or 0) + extra,
    )
    bigger_finding = replace(
        finding, sample_size=None if finding.sample_size is None else finding.sample_size + extra
    )
    assert rank(classify_finding(bigger, bigger_finding, limits).tier) <= rank(before)


@given(studies, thresholds)
def test_classification_is_consistent(study: Study, limits: Thresholds) -> None:
    c = classify(study, limits)
    assert len(c.findings) == len(study.findings)
    assert [d.need_domain for d in c.domains] == sorted({f.need_domain for f in study.findings})
    assert c.tier == min((d.tier for d in c.domains if d.tier is not None), default=None)
    for f, result in zip(study.findings, c.findings, strict=True):
        plain = classify_finding(study, f, limits)
        assert rank(result.tier) >= rank(plain.tier)  # the override only lowers
        if f.subgroup:
            assert rank(result.tier) >= Tier.RATIONALE
    found = [reason.code for reason in c.reasons]
    assert found == sorted(set(found), key=REASON_ORDER.index)


@given(studies, findings, thresholds)
def test_an_unfavorable_finding_never_raises_a_tier(
    study: Study, finding: Finding, limits: Thresholds
) -> None:
    negative = replace(finding, direction=Direction.UNFAVORABLE, significant=True)
    before = roll_up([study], limits)
    after = roll_up([replace(study, findings=(*study.findings, negative))], limits)
    for domain, tier in after.items():
        assert tier >= before.get(domain, Tier.RATIONALE)


@given(st.lists(studies, max_size=4), thresholds)
def test_roll_up_is_order_free_and_matches_classify(group: list[Study], limits: Thresholds) -> None:
    rolled = roll_up(group, limits)
    assert rolled == roll_up(list(reversed(group)), limits)
    assert None not in rolled.values()
    if len(group) == 1:
        expected = {d.need_domain: d.tier for d in classify(group[0], limits).domains}
        assert rolled == {k: v for k, v in expected.items() if v is not None}


@given(studies, st.sampled_from([*Tier, None]), contexts)
def test_context_only_lowers_tiers_1_and_2_and_never_below_3(
    study: Study, tier: Tier | None, context: DistrictContext
) -> None:
    adjusted, reasons = tier_in_context(study, tier, context)
    if tier in {Tier.STRONG, Tier.MODERATE}:
        assert tier is not None
        assert adjusted is not None
        assert tier <= adjusted <= Tier.PROMISING
        assert (adjusted == tier) == (not reasons)
    else:
        assert (adjusted, reasons) == (tier, ())


@given(studies, thresholds)
def test_full_overlap_keeps_the_context_free_tiers(study: Study, limits: Thresholds) -> None:
    everywhere = DistrictContext(
        grade_bands=frozenset(BANDS), student_groups=frozenset(GROUPS), locales=frozenset(LOCALES)
    )
    located = replace(study, grade_bands=frozenset({"high"}), locales=frozenset({"rural"}))
    assert classify_in_context(located, everywhere, limits) == classify(located, limits)


@given(studies, contexts, thresholds)
def test_classify_in_context_never_raises(
    study: Study, context: DistrictContext, limits: Thresholds
) -> None:
    free = classify(study, limits)
    local = classify_in_context(study, context, limits)
    for a, b in zip(free.findings, local.findings, strict=True):
        assert rank(b.tier) >= rank(a.tier)
    assert rank(local.tier) >= rank(free.tier)
