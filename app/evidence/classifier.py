"""ESSA evidence tiers (ESEA section 8101(21)(A)) for the findings of a study.

Pure rules, no I/O. A tier belongs to a finding on an outcome in a need domain; a study's
tier is the strongest tier of its domains, and a partner's tier per domain is the strongest
over its accepted studies (`roll_up`).

Decisions that the statute and guidance leave open, made conservatively:

- The effective sample is the finding's own sample size when given (WWC reports N per
  outcome), otherwise the study's. An unknown sample size is not "large" and an unknown site
  count (None) is not "multi-site"; each has its own reason code so a reviewer can ask for it.
- Subgroup findings never earn tiers 1 to 3 (WWC rates only full-sample findings) but are
  kept and reported. For symmetry they do not override other findings either.
- Overriding evidence: a significant unfavorable full-sample finding in a study that meets
  WWC standards cancels tiers 1 to 3 of every finding in the same need domain, within a study
  (`classify`) or across a partner's studies (`classify_together`, `roll_up`). Those findings
  keep tier 4 when the study's rationale criteria hold. WWC's own per-finding tiers do not
  apply this rule (see `app.evidence.wwc.agreement`), so it is the main source of
  disagreement with them; it stays because domain.md requires it.
- Tier 4 (a rationale) is a property of the study: it applies to every finding's domain,
  whatever the finding's significance or direction. A study without findings names no need
  domain and so gets no tier.
- Context (`tier_in_context`): population overlap means a shared grade band or student
  group, setting overlap a shared locale. An empty set on either side means "unknown" and
  counts as no overlap, so a study that does not report its population cannot keep tier 1
  for a district. Context only ever lowers tiers 1 and 2, and never below tier 3.
- Reasons always explain why a finding is not stronger: every unmet requirement of every
  stronger tier, in `ReasonCode` declaration order.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Design(StrEnum):
    RCT = "rct"
    QED = "qed"
    RDD = "rdd"
    CORRELATIONAL = "correlational"
    LOGIC_MODEL = "logic_model"
    OTHER = "other"


class StandardsRating(StrEnum):
    MEETS_WITHOUT_RESERVATIONS = "meets_without_reservations"
    MEETS_WITH_RESERVATIONS = "meets_with_reservations"
    DOES_NOT_MEET = "does_not_meet"
    NOT_REVIEWED = "not_reviewed"


class Direction(StrEnum):
    FAVORABLE = "favorable"
    UNFAVORABLE = "unfavorable"
    NONE = "none"


class Tier(IntEnum):
    STRONG = 1
    MODERATE = 2
    PROMISING = 3
    RATIONALE = 4


class ReasonCode(StrEnum):
    # Declaration order is the order in which reasons are reported: decisive ones first.
    OVERRIDDEN_BY_UNFAVORABLE = "overridden_by_unfavorable"
    SUBGROUP_FINDING = "subgroup_finding"
    NOT_SIGNIFICANT = "not_significant"
    NOT_FAVORABLE = "not_favorable"
    DESIGN_NOT_CAUSAL = "design_not_causal"
    DESIGN_NOT_RCT = "design_not_rct"
    STANDARDS_NOT_MET = "standards_not_met"
    MEETS_WITH_RESERVATIONS = "meets_with_reservations"
    NO_SELECTION_BIAS_CONTROLS = "no_selection_bias_controls"
    SAMPLE_TOO_SMALL = "sample_too_small"
    SAMPLE_SIZE_UNKNOWN = "sample_size_unknown"
    SINGLE_SITE = "single_site"
    SITE_COUNT_UNKNOWN = "site_count_unknown"
    POPULATION_MISMATCH = "population_mismatch"
    SETTING_MISMATCH = "setting_mismatch"
    NO_LOGIC_MODEL = "no_logic_model"
    NO_RESEARCH_BASIS = "no_research_basis"
    NO_ONGOING_EVALUATION = "no_ongoing_evaluation"
    NO_FINDINGS = "no_findings"


CAUSAL_DESIGNS = frozenset({Design.RCT, Design.QED, Design.RDD})
MEETS_STANDARDS = frozenset(
    {StandardsRating.MEETS_WITHOUT_RESERVATIONS, StandardsRating.MEETS_WITH_RESERVATIONS}
)


@dataclass(frozen=True)
class Thresholds:
    min_sample_size: int = 350
    min_sites: int = 2


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Finding:
    need_domain: str
    outcome: str
    direction: Direction
    significant: bool
    effect_size: float | None = None
    p_value: float | None = None
    sample_size: int | None = None  # overrides the study's when given
    subgroup: bool = False


# Slots: the match index holds tens of thousands of studies in every worker.
@dataclass(frozen=True, slots=True)
class Study:
    design: Design
    standards_rating: StandardsRating
    controls_for_selection_bias: bool
    sample_size: int | None
    site_count: int | None  # None: unknown
    grade_bands: frozenset[str]
    locales: frozenset[str]
    student_groups: frozenset[str]
    has_logic_model: bool
    research_basis: bool
    ongoing_evaluation: bool
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str


@dataclass(frozen=True)
class FindingResult:
    tier: Tier | None
    reasons: tuple[Reason, ...]  # why the tier is not stronger; empty for tier 1


@dataclass(frozen=True)
class DomainTier:
    need_domain: str
    tier: Tier | None


@dataclass(frozen=True)
class Classification:
    tier: Tier | None  # strongest over the domains
    domains: tuple[DomainTier, ...]  # sorted by need_domain
    reasons: tuple[Reason, ...]  # deduplicated by code, in ReasonCode order
    findings: tuple[FindingResult, ...]  # parallel to study.findings


@dataclass(frozen=True)
class DistrictContext:
    grade_bands: frozenset[str]
    student_groups: frozenset[str]
    locales: frozenset[str]


_REASON_ORDER = {code: index for index, code in enumerate(ReasonCode)}


def _merge(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Keep the first reason of each code, in ReasonCode order."""
    first: dict[ReasonCode, Reason] = {}
    for reason in reasons:
        first.setdefault(reason.code, reason)
    return tuple(sorted(first.values(), key=lambda reason: _REASON_ORDER[reason.code]))


def _strongest(tiers: Iterable[Tier | None]) -> Tier | None:
    return min((tier for tier in tiers if tier is not None), default=None)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _meets(study: Study) -> bool:
    return study.standards_rating in MEETS_STANDARDS


def _has_rationale(study: Study) -> bool:
    return study.has_logic_model and study.research_basis and study.ongoing_evaluation


def _effect_gaps(finding: Finding) -> list[Reason]:
    gaps = []
    if finding.subgroup:
        gaps.append(
            Reason(
                ReasonCode.SUBGROUP_FINDING,
                "Subgroup findings support no tier above 4; tiers 1 to 3 rest on the full sample.",
            )
        )
    if not finding.significant:
        p_value = "" if finding.p_value is None else f" (p = {finding.p_value:.3g})"
        gaps.append(
            Reason(
                ReasonCode.NOT_SIGNIFICANT,
                f"The finding is not statistically significant{p_value}.",
            )
        )
    if finding.direction is not Direction.FAVORABLE:
        effect = "unfavorable" if finding.direction is Direction.UNFAVORABLE else "not favorable"
        gaps.append(
            Reason(ReasonCode.NOT_FAVORABLE, f"The effect on {finding.outcome!r} is {effect}.")
        )
    return gaps


def _size_gaps(study: Study, finding: Finding, thresholds: Thresholds) -> list[Reason]:
    gaps = []
    size = finding.sample_size if finding.sample_size is not None else study.sample_size
    if size is None:
        gaps.append(
            Reason(
                ReasonCode.SAMPLE_SIZE_UNKNOWN,
                "The analytic sample size is not reported; tiers 1 and 2 require at least "
                f"{thresholds.min_sample_size}.",
            )
        )
    elif size < thresholds.min_sample_size:
        gaps.append(
            Reason(
                ReasonCode.SAMPLE_TOO_SMALL,
                f"Analytic sample of {size} is below the {thresholds.min_sample_size} "
                "required for tiers 1 and 2.",
            )
        )
    if study.site_count is None:
        gaps.append(
            Reason(
                ReasonCode.SITE_COUNT_UNKNOWN,
                "The number of sites is not reported; tiers 1 and 2 require at least "
                f"{thresholds.min_sites}.",
            )
        )
    elif study.site_count < thresholds.min_sites:
        gaps.append(
            Reason(
                ReasonCode.SINGLE_SITE,
                f"The study ran in {_plural(study.site_count, 'site')}; tiers 1 and 2 require "
                f"at least {thresholds.min_sites}.",
            )
        )
    return gaps


_DESIGN_NAMES = {
    Design.RCT: "a randomized controlled trial",
    Design.QED: "a quasi-experimental design",
    Design.RDD: "a regression discontinuity design",
    Design.CORRELATIONAL: "a correlational study",
    Design.LOGIC_MODEL: "a logic model",
    Design.OTHER: "of another design",
}
_UNMET_STANDARDS = {
    StandardsRating.DOES_NOT_MEET: "does not meet WWC standards",
    StandardsRating.NOT_REVIEWED: "has not been reviewed against WWC standards",
}


def _design_gap(study: Study, *, rct_only: bool) -> list[Reason]:
    name = _DESIGN_NAMES[study.design]
    if study.design not in CAUSAL_DESIGNS:
        return [
            Reason(
                ReasonCode.DESIGN_NOT_CAUSAL,
                f"The study is {name}; tiers 1 and 2 require a randomized controlled trial, "
                "a quasi-experimental or a regression discontinuity design.",
            )
        ]
    if rct_only and study.design is not Design.RCT:
        return [
            Reason(
                ReasonCode.DESIGN_NOT_RCT,
                f"The study is {name}; tier 1 requires a randomized controlled trial.",
            )
        ]
    return []


def _standards_gap(study: Study, *, without_reservations: bool) -> list[Reason]:
    if not _meets(study):
        return [
            Reason(
                ReasonCode.STANDARDS_NOT_MET,
                f"The study {_UNMET_STANDARDS[study.standards_rating]}; tiers 1 and 2 require "
                "a study that meets them.",
            )
        ]
    if without_reservations and study.standards_rating is not (
        StandardsRating.MEETS_WITHOUT_RESERVATIONS
    ):
        return [
            Reason(
                ReasonCode.MEETS_WITH_RESERVATIONS,
                "The study meets WWC standards only with reservations; tier 1 requires "
                "meeting them without reservations.",
            )
        ]
    return []


def _rationale_gaps(study: Study) -> list[Reason]:
    missing = [
        (study.has_logic_model, ReasonCode.NO_LOGIC_MODEL, "There is no documented logic model"),
        (
            study.research_basis,
            ReasonCode.NO_RESEARCH_BASIS,
            "It is not grounded in cited research",
        ),
        (
            study.ongoing_evaluation,
            ReasonCode.NO_ONGOING_EVALUATION,
            "There are no ongoing efforts to examine its effects",
        ),
    ]
    return [
        Reason(code, f"{sentence}, which tier 4 requires.")
        for present, code, sentence in missing
        if not present
    ]


def _requirements(
    study: Study, finding: Finding, thresholds: Thresholds
) -> tuple[tuple[Tier, list[Reason]], ...]:
    """Each tier with the requirements this finding misses for it, strongest tier first."""
    effect = _effect_gaps(finding)
    size = _size_gaps(study, finding, thresholds)
    promising = list(effect)
    if not (_meets(study) or study.controls_for_selection_bias):
        promising += _standards_gap(study, without_reservations=False)
        promising.append(
            Reason(
                ReasonCode.NO_SELECTION_BIAS_CONTROLS,
                "A study that does not meet WWC standards needs statistical controls for "
                "selection bias to reach tier 3.",
            )
        )
    return (
        (
            Tier.STRONG,
            effect
            + _design_gap(study, rct_only=True)
            + _standards_gap(study, without_reservations=True)
            + size,
        ),
        (
            Tier.MODERATE,
            effect
            + _design_gap(study, rct_only=False)
            + _standards_gap(study, without_reservations=False)
            + size,
        ),
        (Tier.PROMISING, promising),
        (Tier.RATIONALE, _rationale_gaps(study)),
    )


def classify_finding(study: Study, finding: Finding, thresholds: Thresholds) -> FindingResult:
    """The finding's context-free tier before any overriding evidence is applied."""
    missed: list[Reason] = []
    for tier, gaps in _requirements(study, finding, thresholds):
        if not gaps:
            return FindingResult(tier, _merge(missed))
        missed += gaps
    return FindingResult(None, _merge(missed))


def _is_overriding(study: Study, finding: Finding) -> bool:
    return (
        _meets(study)
        and finding.significant
        and finding.direction is Direction.UNFAVORABLE
        and not finding.subgroup
    )


def overriding_domains(studies: Iterable[Study]) -> frozenset[str]:
    """The need domains in which the studies show overriding evidence."""
    return frozenset(
        finding.need_domain
        for study in studies
        for finding in study.findings
        if _is_overriding(study, finding)
    )


def _override(study: Study, finding: Finding, result: FindingResult) -> FindingResult:
    if result.tier is None or result.tier is Tier.RATIONALE:
        return result
    overridden = Reason(
        ReasonCode.OVERRIDDEN_BY_UNFAVORABLE,
        f"A significant unfavorable finding on {finding.need_domain}, in a study that meets "
        "WWC standards, overrides this finding.",
    )
    if _has_rationale(study):
        return FindingResult(Tier.RATIONALE, _merge([overridden, *result.reasons]))
    return FindingResult(None, _merge([overridden, *result.reasons, *_rationale_gaps(study)]))


def _classify_findings(
    study: Study, thresholds: Thresholds, overriding: frozenset[str]
) -> tuple[FindingResult, ...]:
    results = []
    for finding in study.findings:
        result = classify_finding(study, finding, thresholds)
        if finding.need_domain in overriding:
            result = _override(study, finding, result)
        results.append(result)
    return tuple(results)


def _summarise(study: Study, results: tuple[FindingResult, ...]) -> Classification:
    by_domain: dict[str, list[Tier | None]] = {}
    for finding, result in zip(study.findings, results, strict=True):
        by_domain.setdefault(finding.need_domain, []).append(result.tier)
    domains = tuple(
        DomainTier(domain, _strongest(tiers)) for domain, tiers in sorted(by_domain.items())
    )
    tier = _strongest(domain.tier for domain in domains)
    if not results:
        reasons: tuple[Reason, ...] = (
            Reason(
                ReasonCode.NO_FINDINGS,
                "The study reports no findings, so it supports no need domain.",
            ),
        )
    else:
        # The study is held back by whatever holds back its best findings.
        reasons = _merge(
            reason for result in results if result.tier == tier for reason in result.reasons
        )
    return Classification(tier, domains, reasons, results)


def classify(study: Study, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Classification:
    """Tiers of a study's findings and domains, with overriding evidence from this study."""
    overriding = overriding_domains([study])
    return _summarise(study, _classify_findings(study, thresholds, overriding))


def classify_together(
    studies: Sequence[Study], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> tuple[Classification, ...]:
    """Classify a partner's studies with overriding evidence applied across all of them."""
    overriding = overriding_domains(studies)
    return tuple(
        _summarise(study, _classify_findings(study, thresholds, overriding)) for study in studies
    )


def roll_up(
    studies: Sequence[Study], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> dict[str, Tier]:
    """A partner's tier per need domain over its accepted studies; untiered domains are absent.

    Overriding evidence applies across the studies: an unfavorable result in one study cancels
    favorable results in the same domain in any other.
    """
    tiers: dict[str, Tier] = {}
    for classification in classify_together(studies, thresholds):
        for domain in classification.domains:
            if domain.tier is not None:
                tiers[domain.need_domain] = min(
                    domain.tier, tiers.get(domain.need_domain, domain.tier)
                )
    return tiers


def _describe(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)) or "not reported"


def context_overlap(study: Study, context: DistrictContext) -> tuple[bool, bool]:
    """Whether the study's population and its setting overlap the district's."""
    population = bool(
        study.grade_bands & context.grade_bands or study.student_groups & context.student_groups
    )
    return population, bool(study.locales & context.locales)


def tier_here(tier: Tier, population: bool, setting: bool) -> Tier:
    """The tier a finding counts as where its population and setting do or do not match.

    Tiers 1 and 2 claim that a result carries over to other schools, which only a study of a
    similar population in a similar setting supports; tiers 3 and 4 claim nothing of the sort.
    """
    if tier > Tier.MODERATE:
        return tier
    if population and setting:
        return tier
    return max(tier, Tier.MODERATE if population or setting else Tier.PROMISING)


def tier_in_context(
    study: Study, tier: Tier | None, context: DistrictContext
) -> tuple[Tier | None, tuple[Reason, ...]]:
    """The tier a finding counts as for a district, with the reasons it was lowered."""
    if tier is None:
        return tier, ()
    population, setting = context_overlap(study, context)
    reachable = tier_here(tier, population, setting)
    if reachable == tier:
        return tier, ()
    reasons = []
    if not population:
        reasons.append(
            Reason(
                ReasonCode.POPULATION_MISMATCH,
                f"The study's grade bands ({_describe(study.grade_bands)}) and student groups "
                f"({_describe(study.student_groups)}) do not overlap the district's, so tier "
                f"{int(tier)} counts as tier {int(reachable)} here.",
            )
        )
    if not setting:
        reasons.append(
            Reason(
                ReasonCode.SETTING_MISMATCH,
                f"The study's locales ({_describe(study.locales)}) do not overlap the "
                f"district's ({_describe(context.locales)}), so tier {int(tier)} counts as "
                f"tier {int(reachable)} here.",
            )
        )
    return reachable, tuple(reasons)


def classify_in_context(
    study: Study,
    context: DistrictContext,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Classification:
    """Like `classify`, with each finding's tier adjusted for the district's context."""
    overriding = overriding_domains([study])
    adjusted = []
    for result in _classify_findings(study, thresholds, overriding):
        tier, reasons = tier_in_context(study, result.tier, context)
        adjusted.append(FindingResult(tier, _merge([*result.reasons, *reasons])))
    return _summarise(study, tuple(adjusted))
