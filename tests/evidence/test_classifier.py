"""Table tests of the ESSA classifier: each tier rule, each reason code, override and context."""

from dataclasses import replace
from typing import Any

import pytest

from app.evidence.classifier import (
    DEFAULT_THRESHOLDS,
    Classification,
    Design,
    Direction,
    DistrictContext,
    DomainTier,
    Finding,
    FindingResult,
    ReasonCode,
    StandardsRating,
    Study,
    Thresholds,
    Tier,
    classify,
    classify_finding,
    classify_in_context,
    classify_together,
    roll_up,
    tier_in_context,
)

R = ReasonCode
WITHOUT = StandardsRating.MEETS_WITHOUT_RESERVATIONS
WITH = StandardsRating.MEETS_WITH_RESERVATIONS
DOES_NOT_MEET = StandardsRating.DOES_NOT_MEET
NOT_REVIEWED = StandardsRating.NOT_REVIEWED


def finding(**changes: Any) -> Finding:
    """A significant favorable full-sample literacy finding."""
    base = Finding(
        need_domain="literacy",
        outcome="reading comprehension",
        direction=Direction.FAVORABLE,
        significant=True,
    )
    return replace(base, **changes)


def study(*findings: Finding, **changes: Any) -> Study:
    """A tier-1 study: large multi-site RCT meeting standards without reservations."""
    base = Study(
        design=Design.RCT,
        standards_rating=WITHOUT,
        controls_for_selection_bias=False,
        sample_size=1000,
        site_count=5,
        grade_bands=frozenset({"elementary"}),
        locales=frozenset({"city"}),
        student_groups=frozenset({"english_learners"}),
        has_logic_model=False,
        research_basis=False,
        ongoing_evaluation=False,
        findings=findings or (finding(),),
    )
    return replace(base, **changes)


RATIONALE: dict[str, Any] = {
    "has_logic_model": True,
    "research_basis": True,
    "ongoing_evaluation": True,
}
NO_RATIONALE = (R.NO_LOGIC_MODEL, R.NO_RESEARCH_BASIS, R.NO_ONGOING_EVALUATION)


def result_of(
    s: Study, f: Finding | None = None, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> FindingResult:
    return classify_finding(s, f or s.findings[0], thresholds)


def codes(reasons: tuple[Any, ...]) -> tuple[ReasonCode, ...]:
    return tuple(reason.code for reason in reasons)


# fmt: off
CASES = [
    # id, study changes, finding changes, expected tier, expected reason codes
    ("tier1", {}, {}, Tier.STRONG, ()),
    ("tier2 rct with reservations", {"standards_rating": WITH}, {}, Tier.MODERATE,
     (R.MEETS_WITH_RESERVATIONS,)),
    ("tier2 qed", {"design": Design.QED, "standards_rating": WITH}, {}, Tier.MODERATE,
     (R.DESIGN_NOT_RCT, R.MEETS_WITH_RESERVATIONS)),
    ("tier2 rdd without reservations", {"design": Design.RDD}, {}, Tier.MODERATE,
     (R.DESIGN_NOT_RCT,)),
    ("tier3 small sample", {"sample_size": 120}, {}, Tier.PROMISING, (R.SAMPLE_TOO_SMALL,)),
    ("tier3 sample unknown", {"sample_size": None}, {}, Tier.PROMISING,
     (R.SAMPLE_SIZE_UNKNOWN,)),
    ("tier3 single site", {"site_count": 1}, {}, Tier.PROMISING, (R.SINGLE_SITE,)),
    ("tier3 site count unknown", {"site_count": None}, {}, Tier.PROMISING,
     (R.SITE_COUNT_UNKNOWN,)),
    ("tier3 small and single site qed", {"design": Design.QED, "standards_rating": WITH,
     "sample_size": 80, "site_count": 1}, {}, Tier.PROMISING,
     (R.DESIGN_NOT_RCT, R.MEETS_WITH_RESERVATIONS, R.SAMPLE_TOO_SMALL, R.SINGLE_SITE)),
    ("tier3 other design meeting standards", {"design": Design.OTHER}, {}, Tier.PROMISING,
     (R.DESIGN_NOT_CAUSAL,)),
    ("tier3 correlational with controls", {"design": Design.CORRELATIONAL,
     "standards_rating": NOT_REVIEWED, "controls_for_selection_bias": True}, {},
     Tier.PROMISING, (R.DESIGN_NOT_CAUSAL, R.STANDARDS_NOT_MET)),
    ("tier3 rct failing standards with controls", {"standards_rating": DOES_NOT_MEET,
     "controls_for_selection_bias": True}, {}, Tier.PROMISING, (R.STANDARDS_NOT_MET,)),
    ("none correlational without controls", {"design": Design.CORRELATIONAL,
     "standards_rating": NOT_REVIEWED}, {}, None,
     (R.DESIGN_NOT_CAUSAL, R.STANDARDS_NOT_MET, R.NO_SELECTION_BIAS_CONTROLS, *NO_RATIONALE)),
    ("none not significant", {}, {"significant": False, "p_value": 0.21}, None,
     (R.NOT_SIGNIFICANT, *NO_RATIONALE)),
    ("none unfavorable", {}, {"direction": Direction.UNFAVORABLE}, None,
     (R.NOT_FAVORABLE, *NO_RATIONALE)),
    ("none no direction", {}, {"direction": Direction.NONE, "significant": False}, None,
     (R.NOT_SIGNIFICANT, R.NOT_FAVORABLE, *NO_RATIONALE)),
    ("none subgroup", {}, {"subgroup": True}, None, (R.SUBGROUP_FINDING, *NO_RATIONALE)),
    ("tier4 rationale", {**RATIONALE, "design": Design.LOGIC_MODEL,
     "standards_rating": NOT_REVIEWED}, {"significant": False, "direction": Direction.NONE},
     Tier.RATIONALE, (R.NOT_SIGNIFICANT, R.NOT_FAVORABLE, R.DESIGN_NOT_CAUSAL,
                      R.STANDARDS_NOT_MET, R.NO_SELECTION_BIAS_CONTROLS)),
    ("tier4 subgroup with rationale", RATIONALE, {"subgroup": True}, Tier.RATIONALE,
     (R.SUBGROUP_FINDING,)),
    ("none missing only ongoing evaluation", {"has_logic_model": True, "research_basis": True},
     {"significant": False}, None, (R.NOT_SIGNIFICANT, R.NO_ONGOING_EVALUATION)),
    ("finding sample overrides study", {"sample_size": 5000}, {"sample_size": 200},
     Tier.PROMISING, (R.SAMPLE_TOO_SMALL,)),
    ("finding sample rescues unknown study size", {"sample_size": None},
     {"sample_size": 400}, Tier.STRONG, ()),
]
# fmt: on


@pytest.mark.parametrize(
    ("study_changes", "finding_changes", "tier", "reason_codes"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_classify_finding(
    study_changes: dict[str, Any],
    finding_changes: dict[str, Any],
    tier: Tier | None,
    reason_codes: tuple[ReasonCode, ...],
) -> None:
    result = result_of(study(finding(**finding_changes), **study_changes))
    assert result.tier == tier
    assert codes(result.reasons) == reason_codes


def test_every_reason_code_is_exercised() -> None:
    covered = {code for case in CASES for code in case[4]}
    elsewhere = {
        R.OVERRIDDEN_BY_UNFAVORABLE,
        R.POPULATION_MISMATCH,
        R.SETTING_MISMATCH,
        R.NO_FINDINGS,
    }
    assert covered | elsewhere == set(ReasonCode)


@pytest.mark.parametrize(
    ("size", "sites", "tier"),
    [
        (350, 2, Tier.STRONG),
        (349, 2, Tier.PROMISING),
        (350, 1, Tier.PROMISING),
        (0, 0, Tier.PROMISING),
    ],
)
def test_threshold_boundaries(size: int, sites: int, tier: Tier) -> None:
    assert result_of(study(sample_size=size, site_count=sites)).tier == tier


def test_thresholds_are_settings() -> None:
    s = study(sample_size=120, site_count=1)
    assert result_of(s).tier == Tier.PROMISING
    assert result_of(s, thresholds=Thresholds(min_sample_size=100, min_sites=1)).tier == (
        Tier.STRONG
    )


@pytest.mark.parametrize(
    ("reason_code", "study_changes", "finding_changes", "phrases"),
    [
        (
            R.SAMPLE_TOO_SMALL,
            {"sample_size": 120},
            {},
            ["Analytic sample of 120 is below the 350 required for tiers 1 and 2."],
        ),
        (R.SINGLE_SITE, {"site_count": 1}, {}, ["1 site;", "at least 2"]),
        (R.NOT_SIGNIFICANT, {}, {"significant": False, "p_value": 0.2134}, ["p = 0.213"]),
        (R.NOT_FAVORABLE, {}, {"direction": Direction.UNFAVORABLE}, ["unfavorable"]),
        (R.SITE_COUNT_UNKNOWN, {"site_count": None}, {}, ["not reported", "at least 2"]),
        (R.DESIGN_NOT_RCT, {"design": Design.QED}, {}, ["quasi-experimental"]),
        (R.STANDARDS_NOT_MET, {"standards_rating": DOES_NOT_MEET}, {}, ["does not meet"]),
    ],
)
def test_reason_messages_are_sentences_with_numbers(
    reason_code: ReasonCode,
    study_changes: dict[str, Any],
    finding_changes: dict[str, Any],
    phrases: list[str],
) -> None:
    result = result_of(study(finding(**finding_changes), **study_changes))
    message = next(reason.message for reason in result.reasons if reason.code is reason_code)
    assert message.endswith(".")
    assert message[0].isupper()
    for phrase in phrases:
        assert phrase in message


# Overriding evidence

NEGATIVE = finding(outcome="fluency", direction=Direction.UNFAVORABLE)


def test_override_cancels_sig_positive_findings_in_the_same_domain() -> None:
    math = finding(need_domain="mathematics")
    c = classify(study(finding(), NEGATIVE, math))
    assert [r.tier for r in c.findings] == [None, None, Tier.STRONG]
    assert codes(c.findings[0].reasons)[0] is R.OVERRIDDEN_BY_UNFAVORABLE
    assert c.domains == (DomainTier("literacy", None), DomainTier("mathematics", Tier.STRONG))
    assert c.tier == Tier.STRONG


def test_overridden_domain_keeps_tier4_with_a_rationale() -> None:
    c = classify(study(finding(), NEGATIVE, **RATIONALE))
    assert [r.tier for r in c.findings] == [Tier.RATIONALE, Tier.RATIONALE]
    assert c.domains == (DomainTier("literacy", Tier.RATIONALE),)
    assert codes(c.findings[0].reasons) == (R.OVERRIDDEN_BY_UNFAVORABLE,)


@pytest.mark.parametrize(
    ("study_changes", "negative_changes"),
    [
        pytest.param(
            {"standards_rating": DOES_NOT_MEET, "controls_for_selection_bias": True},
            {},
            id="study not meeting standards",
        ),
        pytest.param({}, {"significant": False}, id="not significant"),
        pytest.param({}, {"subgroup": True}, id="subgroup"),
        pytest.param({}, {"need_domain": "mathematics"}, id="other domain"),
    ],
)
def test_no_override(study_changes: dict[str, Any], negative_changes: dict[str, Any]) -> None:
    c = classify(study(finding(), replace(NEGATIVE, **negative_changes), **study_changes))
    assert c.findings[0].tier is not None
    assert R.OVERRIDDEN_BY_UNFAVORABLE not in codes(c.findings[0].reasons)


def test_classify_finding_is_before_override() -> None:
    s = study(finding(), NEGATIVE)
    assert classify_finding(s, s.findings[0], Thresholds()).tier == Tier.STRONG


# Study classification and roll-up


def test_classification_shape() -> None:
    s = study(
        finding(need_domain="mathematics", significant=False),
        finding(sample_size=100),
        finding(need_domain="climate_culture", sample_size=200),
    )
    c = classify(s)
    assert c.tier == Tier.PROMISING
    assert [d.need_domain for d in c.domains] == ["climate_culture", "literacy", "mathematics"]
    assert [d.tier for d in c.domains] == [Tier.PROMISING, Tier.PROMISING, None]
    assert len(c.findings) == len(s.findings)
    # The study's reasons are those of its best findings, one per code.
    assert codes(c.reasons) == (R.SAMPLE_TOO_SMALL,)
    assert "100" in c.reasons[0].message


def test_untiered_study_lists_all_reasons() -> None:
    c = classify(
        study(
            finding(significant=False), finding(direction=Direction.UNFAVORABLE, significant=False)
        )
    )
    assert c.tier is None
    assert codes(c.reasons) == (R.NOT_SIGNIFICANT, R.NOT_FAVORABLE, *NO_RATIONALE)


def test_study_without_findings() -> None:
    c = classify(replace(study(**RATIONALE), findings=()))
    assert c == Classification(None, (), c.reasons, ())
    assert codes(c.reasons) == (R.NO_FINDINGS,)


def test_tier1_study_has_no_reasons() -> None:
    assert classify(study(finding(), finding(significant=False))).reasons == ()


def test_roll_up_takes_the_strongest_tier_per_domain() -> None:
    studies = [
        study(finding(), finding(need_domain="mathematics", significant=False)),
        study(finding(need_domain="mathematics"), design=Design.QED, sample_size=90),
        study(finding(need_domain="graduation", significant=False), **RATIONALE),
    ]
    assert roll_up(studies) == {
        "literacy": Tier.STRONG,
        "mathematics": Tier.PROMISING,
        "graduation": Tier.RATIONALE,
    }
    assert roll_up([]) == {}


def test_roll_up_applies_the_override_across_studies() -> None:
    positive = study(finding())
    negative = study(NEGATIVE, design=Design.QED, standards_rating=WITH, sample_size=80)
    assert roll_up([positive]) == {"literacy": Tier.STRONG}
    assert roll_up([positive, negative]) == {}
    assert roll_up([positive, replace(negative, **RATIONALE)]) == {"literacy": Tier.RATIONALE}
    together = classify_together([positive, negative])
    assert together[0].tier is None
    assert classify(positive).tier == Tier.STRONG


# District context

ELEMENTARY_CITY = DistrictContext(
    grade_bands=frozenset({"elementary"}), student_groups=frozenset(), locales=frozenset({"city"})
)
HIGH_RURAL = DistrictContext(
    grade_bands=frozenset({"high"}), student_groups=frozenset(), locales=frozenset({"rural"})
)
HIGH_CITY = replace(HIGH_RURAL, locales=frozenset({"city"}))
ELEMENTARY_RURAL = replace(ELEMENTARY_CITY, locales=frozenset({"rural"}))
EL_GROUP_RURAL = replace(HIGH_RURAL, student_groups=frozenset({"english_learners"}))


@pytest.mark.parametrize(
    ("tier", "context", "expected", "reason_codes"),
    [
        (Tier.STRONG, ELEMENTARY_CITY, Tier.STRONG, ()),
        (Tier.STRONG, ELEMENTARY_RURAL, Tier.MODERATE, (R.SETTING_MISMATCH,)),
        (Tier.STRONG, HIGH_CITY, Tier.MODERATE, (R.POPULATION_MISMATCH,)),
        (Tier.STRONG, EL_GROUP_RURAL, Tier.MODERATE, (R.SETTING_MISMATCH,)),
        (Tier.STRONG, HIGH_RURAL, Tier.PROMISING, (R.POPULATION_MISMATCH, R.SETTING_MISMATCH)),
        (Tier.MODERATE, ELEMENTARY_RURAL, Tier.MODERATE, ()),
        (Tier.MODERATE, HIGH_CITY, Tier.MODERATE, ()),
        (Tier.MODERATE, HIGH_RURAL, Tier.PROMISING, (R.POPULATION_MISMATCH, R.SETTING_MISMATCH)),
        (Tier.PROMISING, HIGH_RURAL, Tier.PROMISING, ()),
        (Tier.RATIONALE, HIGH_RURAL, Tier.RATIONALE, ()),
        (None, HIGH_RURAL, None, ()),
    ],
)
def test_tier_in_context(
    tier: Tier | None,
    context: DistrictContext,
    expected: Tier | None,
    reason_codes: tuple[ReasonCode, ...],
) -> None:
    adjusted, reasons = tier_in_context(study(), tier, context)
    assert adjusted == expected
    assert codes(reasons) == reason_codes


def test_unknown_population_counts_as_no_overlap() -> None:
    unknown = study(grade_bands=frozenset(), student_groups=frozenset(), locales=frozenset())
    assert tier_in_context(unknown, Tier.STRONG, ELEMENTARY_CITY)[0] == Tier.PROMISING
    empty_district = DistrictContext(frozenset(), frozenset(), frozenset())
    assert tier_in_context(study(), Tier.STRONG, empty_district)[0] == Tier.PROMISING


def test_context_message_names_both_sides() -> None:
    _, reasons = tier_in_context(study(), Tier.STRONG, ELEMENTARY_RURAL)
    assert reasons[0].message == (
        "The study's locales (city) do not overlap the district's (rural), so tier 1 counts "
        "as tier 2 here."
    )


def test_classify_in_context() -> None:
    s = study(finding(), finding(need_domain="mathematics", sample_size=100))
    c = classify_in_context(s, HIGH_RURAL)
    assert [r.tier for r in c.findings] == [Tier.PROMISING, Tier.PROMISING]
    assert c.tier == Tier.PROMISING
    assert codes(c.reasons) == (R.SAMPLE_TOO_SMALL, R.POPULATION_MISMATCH, R.SETTING_MISMATCH)
    assert classify_in_context(s, ELEMENTARY_CITY) == classify(s)
