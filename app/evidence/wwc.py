"""Read the What Works Clearinghouse study-findings export and check the classifier against it.

The export (see ../shared/data/wwc/SOURCE.md) has one row per finding, with study-level
columns repeated. Both the slim file and WWC's raw `Interventions_Studies_And_Findings.csv`
work: only column names common to both are read.

Mapping decisions:

- One `Study` per WWC study review and standards rating: WWC rates each finding, and findings
  of one review can meet standards with and without reservations, so they cannot share a
  `Study`. The rating is `f_Finding_Rating`, or `s_Study_Rating` when that is blank.
- `controls_for_selection_bias` is true exactly when the rating meets standards: WWC
  standards require low attrition or baseline equivalence, and we know nothing about the
  controls of studies that fail them.
- `s_Multisite` ("conducted in more than one school") is the only site field: True gives
  2 sites (a lower bound), False 1 and blank None (unknown).
- The sample size is the finding's `f_Outcome_Sample_Size`; 0 or blank means unknown. The
  study-level size is left unknown because the export has none.
- Significance is WWC's flag; a blank flag is not significant. The direction is WWC's
  favorable/unfavorable label, then favorable for a finding WWC gave an ESSA tier, then the
  sign of the improvement index, of WWC's effect size, and of the study-reported effect size
  (used only where WWC computed neither).
- Grades map to our bands (pre-K, K-5 elementary, 6-8 middle, 9-12 high); a postsecondary
  sample (`s_Grade_PS`) to none.
- The export has no student-group categories, so `student_groups` is empty; studies are not
  rationales, so the tier-4 criteria are false.

The export is third-party input, trusted no more than a request body: a malformed file stops
with a one-line `ValueError` (a missing column, an oversized field, an id that is not a WWC
id), text loses control characters, a link that is not http(s) is dropped, and numbers outside
the ranges the API accepts count as unknown.
"""

import csv
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TextIO

from app.core.schemas import FORBIDDEN_CHARACTER
from app.evidence.classifier import (
    DEFAULT_THRESHOLDS,
    MEETS_STANDARDS,
    Design,
    Direction,
    Finding,
    ReasonCode,
    StandardsRating,
    Study,
    Thresholds,
    Tier,
    classify_finding,
    classify_together,
)

Source = str | PathLike[str] | TextIO

WWC_SITE = "https://ies.ed.gov/ncee/wwc"
# s_Grade_PS is postsecondary (ReviewDictionary.csv), which no grade band of ours covers: a
# college programme's study overlaps no district's grades.
_GRADE_BANDS = {
    "PK": "prek",
    "K": "elementary",
    **{str(grade): "elementary" for grade in range(1, 6)},
    **{str(grade): "middle" for grade in range(6, 9)},
    **{str(grade): "high" for grade in range(9, 13)},
}
_LOCALES = {"Urban": "city", "Suburban": "suburb", "Rural": "rural"}
_TIERS = {
    f"Evidence Tier {int(tier)}": tier for tier in (Tier.STRONG, Tier.MODERATE, Tier.PROMISING)
}
_TITLE = re.compile(r"\(\d{4}[a-z]?\)\.\s+(?P<title>.+?[.?!])(?:\s|$)")
# WWC ids are numbers; anything longer than this cannot be one and would not fit our columns.
_ID = re.compile(r"[0-9A-Za-z_.-]{1,32}")
_LINK = re.compile(r"https?://[^\s]+")
# The same bounds as a study submitted through the API (app/evidence/schemas.py).
MAX_SAMPLE = 100_000_000
MAX_EFFECT_SIZE = 100.0
REQUIRED_COLUMNS = (
    "ReviewID",
    "s_StudyID",
    "f_FindingID",
    "s_interventionID",
    "s_Intervention_Name",
    "f_ESSA_Rating",
    "s_Study_Design",
    "s_Study_Rating",
    "f_Finding_Rating",
    "f_Outcome_Sample_Size",
    "s_Multisite",
    "f_Is_Statistically_Significant",
    "f_p_Value_WWC",
    "f_Effect_Size_WWC",
    "f_Is_Subgroup",
    "f_Outcome_Domain",
    "f_Outcome_Measure",
    "s_Standards_Version",
    "s_Purpose_of_Review",
    "s_Study_Page_URL",
)
_EXAMPLES = 5


@dataclass(frozen=True)
class WwcFinding:
    finding_id: str
    outcome_domain: str  # WWC's label, before mapping to a need domain
    wwc_tier: Tier | None
    rating_from_study: bool  # the finding rating was blank, so the study rating was used
    significance_flag: str  # WWC's raw flag: "True", "False" or ""


@dataclass(frozen=True)
class WwcStudy:
    study_id: str
    review_id: str
    title: str
    citation: str
    url: str
    intervention_id: str
    intervention_name: str
    standards_version: str
    purpose_of_review: str
    study: Study
    findings: tuple[WwcFinding, ...]  # parallel to study.findings


def normalise_label(label: str) -> str:
    """WWC labels carry stray and non-breaking spaces; compare them without."""
    return " ".join(label.split())


def _open(source: Source) -> TextIO:
    if isinstance(source, str | PathLike):
        return Path(source).open(encoding="utf-8-sig", newline="")
    return source


def _rows(source: Source, required: Sequence[str]) -> Iterator[dict[str, str]]:
    """The rows as dicts, every required column present and every row as long as the header.

    A row of another length is refused, not padded: it is what a download cut short leaves
    last, and its study review, imported from the cut row, would never be completed later.
    """
    stream = _open(source)
    try:
        reader = csv.DictReader(stream, restkey=_EXTRA, restval=None)
        try:
            missing = [column for column in required if column not in (reader.fieldnames or ())]
            if missing:
                raise ValueError(f"missing columns: {', '.join(missing)}")
            width = len(reader.fieldnames or ())
            for row in reader:
                if _EXTRA in row or None in row.values():
                    raise ValueError(
                        f"line {reader.line_num}: not {width} fields as the header has;"
                        " is the file cut short?"
                    )
                yield row
        except csv.Error as error:  # e.g. a field over csv.field_size_limit()
            raise ValueError(f"line {reader.line_num}: {error}") from None
    finally:
        if stream is not source:
            stream.close()


_EXTRA = "\0fields beyond the header"


def load_domain_map(path: Source) -> dict[str, str]:
    """WWC outcome-domain label (normalised) to need-domain code."""
    return {
        normalise_label(row["wwc_outcome_domain"]): row["need_domain"].strip()
        for row in _rows(path, ("wwc_outcome_domain", "need_domain"))
    }


def _text(value: str) -> str:
    """Text as the API would accept it: no control or bidirectional formatting characters
    but tab and line breaks."""
    return FORBIDDEN_CHARACTER.sub("", value).strip()


def _check_ids(row: Mapping[str, str]) -> None:
    for column in ("s_StudyID", "ReviewID", "f_FindingID", "s_interventionID"):
        if not _ID.fullmatch(row[column]):
            raise ValueError(f"{column} {row[column][:40]!r} is not a WWC id")


def _link(path: str) -> str:
    url = f"{WWC_SITE}{path}" if path.startswith("/") else path
    return url if _LINK.fullmatch(url) else ""


def _bounded(text: str, low: float, high: float) -> float | None:
    value = _number(text)
    return value if value is not None and low <= value <= high else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _flag(row: Mapping[str, str], column: str) -> bool:
    return (_number(row.get(column)) or 0) > 0


def _design(text: str) -> Design:
    text = text.lower()
    if text.startswith("randomized controlled trial"):
        return Design.RCT
    if text.startswith("quasi-experimental"):
        return Design.QED
    if text.startswith("regression discontinuity"):
        return Design.RDD
    return Design.OTHER


def _rating(text: str) -> StandardsRating:
    text = text.lower()
    if "without reservations" in text:
        return StandardsRating.MEETS_WITHOUT_RESERVATIONS
    if "with reservations" in text:
        return StandardsRating.MEETS_WITH_RESERVATIONS
    if text.startswith("does not meet"):
        return StandardsRating.DOES_NOT_MEET
    return StandardsRating.NOT_REVIEWED


def _direction(row: Mapping[str, str]) -> Direction:
    """WWC's own word first: its favorable or unfavorable label, then its ESSA rating (it rates
    favorable effects only). The signs of the improvement index and the effect sizes decide
    only where WWC says neither: a sign alone misreads an outcome of which less is better
    (suspensions, problem behaviour), and a finding read as significant harm cancels every
    other finding in its need domain."""
    label = row.get("f_FavorableUnfavorableDesignation", "").strip().lower()
    if label in {Direction.FAVORABLE, Direction.UNFAVORABLE}:
        return Direction(label)
    if row.get("f_ESSA_Rating", "").strip() in _TIERS:
        return Direction.FAVORABLE
    for column in ("f_Improvement_Index", "f_Effect_Size_WWC", "f_Effect_Size_Study"):
        value = _number(row.get(column))
        if value:
            return Direction.FAVORABLE if value > 0 else Direction.UNFAVORABLE
    return Direction.NONE


def _site_count(text: str) -> int | None:
    # "More than one school" says at least two; the export has no count.
    return {"true": 2, "false": 1}.get(text.strip().lower())


def _sample_size(text: str) -> int | None:
    value = _number(text)
    return int(value) if value and 0 < value <= MAX_SAMPLE else None


def _title(row: Mapping[str, str]) -> str:
    match = _TITLE.search(row.get("s_Citation", ""))
    title = match["title"].removesuffix(".") if match else row["s_Intervention_Name"]
    return _text(title)


def _study_key(row: Mapping[str, str]) -> tuple[str, str, StandardsRating]:
    return (
        row["s_StudyID"],
        row["ReviewID"],
        _rating(row["f_Finding_Rating"].strip() or row["s_Study_Rating"]),
    )


def _to_study(rows: Sequence[Mapping[str, str]], domain_map: Mapping[str, str]) -> WwcStudy:
    first = rows[0]
    rating = _study_key(first)[2]
    findings = tuple(
        Finding(
            need_domain=domain_map[normalise_label(row["f_Outcome_Domain"])],
            outcome=_text(row["f_Outcome_Measure"]),
            direction=_direction(row),
            significant=row["f_Is_Statistically_Significant"].strip() == "True",
            effect_size=_bounded(row["f_Effect_Size_WWC"], -MAX_EFFECT_SIZE, MAX_EFFECT_SIZE),
            p_value=_bounded(row["f_p_Value_WWC"], 0, 1),
            sample_size=_sample_size(row["f_Outcome_Sample_Size"]),
            subgroup=row["f_Is_Subgroup"].strip() == "True",
        )
        for row in rows
    )
    study = Study(
        design=_design(first["s_Study_Design"]),
        standards_rating=rating,
        controls_for_selection_bias=rating in MEETS_STANDARDS,
        sample_size=None,
        site_count=_site_count(first["s_Multisite"]),
        grade_bands=frozenset(
            band for grade, band in _GRADE_BANDS.items() if _flag(first, f"s_Grade_{grade}")
        ),
        locales=frozenset(
            locale
            for urbanicity, locale in _LOCALES.items()
            if _flag(first, f"s_Urbanicity_{urbanicity}")
        ),
        student_groups=frozenset(),
        has_logic_model=False,
        research_basis=False,
        ongoing_evaluation=False,
        findings=findings,
    )
    return WwcStudy(
        study_id=first["s_StudyID"],
        review_id=first["ReviewID"],
        title=_title(first),
        citation=_text(first.get("s_Citation", "")),
        url=_link(first["s_Study_Page_URL"].strip()),
        intervention_id=first["s_interventionID"],
        intervention_name=_text(first["s_Intervention_Name"]),
        standards_version=first["s_Standards_Version"].strip(),
        purpose_of_review=first["s_Purpose_of_Review"].strip(),
        study=study,
        findings=tuple(
            WwcFinding(
                finding_id=row["f_FindingID"],
                outcome_domain=row["f_Outcome_Domain"],
                wwc_tier=_TIERS.get(row["f_ESSA_Rating"].strip()),
                rating_from_study=not row["f_Finding_Rating"].strip(),
                significance_flag=row["f_Is_Statistically_Significant"].strip(),
            )
            for row in rows
        ),
    )


def parse_export(source: Source, domain_map: Mapping[str, str]) -> list[WwcStudy]:
    """One `WwcStudy` per study review and rating, in the order the export lists them."""
    groups: dict[tuple[str, str, StandardsRating], list[dict[str, str]]] = defaultdict(list)
    finding_rows: dict[str, int] = {}
    for number, row in enumerate(_rows(source, REQUIRED_COLUMNS), start=1):
        try:
            _check_ids(row)
        except ValueError as error:
            raise ValueError(f"row {number}: {error}") from None
        # f_FindingID is the export's key: a repeat (two exports run together) would count
        # the finding twice in its study's tier.
        first = finding_rows.setdefault(row["f_FindingID"], number)
        if first != number:
            raise ValueError(f"row {number}: finding {row['f_FindingID']} repeats row {first}")
        groups[_study_key(row)].append(row)
    unmapped = {
        normalise_label(row["f_Outcome_Domain"])
        for rows in groups.values()
        for row in rows
        if normalise_label(row["f_Outcome_Domain"]) not in domain_map
    }
    if unmapped:
        msg = f"WWC outcome domains missing from the domain map: {sorted(unmapped)}"
        raise ValueError(msg)
    return [_to_study(rows, domain_map) for rows in groups.values()]


# Agreement with WWC's own tiers.

TierKey = Tier | None


@dataclass(frozen=True)
class Disagreement:
    kind: str
    description: str
    count: int
    examples: tuple[str, ...]  # WWC finding ids


@dataclass(frozen=True)
class AgreementReport:
    findings: int
    rated: int  # findings WWC gave a tier
    agreeing: int  # of the rated, those where our tier equals WWC's
    agreeing_without_override: int
    unrated_agreeing: int  # of the unrated, those we leave untiered too
    confusion: Mapping[TierKey, Mapping[TierKey, int]]  # WWC tier -> our tier -> count
    disagreements: tuple[Disagreement, ...]  # most frequent first

    @property
    def rate(self) -> float:
        return self.agreeing / self.rated if self.rated else 1.0

    @property
    def rate_without_override(self) -> float:
        return self.agreeing_without_override / self.rated if self.rated else 1.0


KINDS = {
    "overridden_same_wwc_domain": (
        "We cancel the finding because the same WWC study has a significant unfavorable "
        "finding in the same WWC outcome domain; WWC does not apply the override per finding."
    ),
    "overridden_via_domain_map": (
        "We cancel the finding because of a significant unfavorable finding in another WWC "
        "outcome domain that our coarser need-domain map merges with this one."
    ),
    "wwc_flag_not_significant": "WWC rated the finding although its significance flag is not True.",
    "wwc_rated_not_favorable": (
        "WWC rated a finding whose improvement index or effect size is not positive."
    ),
    "wwc_rated_design_unknown": "WWC rated tier 1 or 2 a study whose design is blank.",
    "wwc_tier1_2_small_slice": (
        "WWC rated tier 1 or 2 a finding with N below the threshold, typically a cohort, grade "
        "or school-level slice of a larger study."
    ),
    "wwc_tier1_2_not_multisite": "WWC rated tier 1 or 2 a study not flagged multisite.",
    "wwc_tier3_pre_2_1_standards": (
        "WWC gives tiers 1 and 2 only under Standards 2.1 or later; this finding meets every "
        "other criterion but was reviewed under an older version."
    ),
    "wwc_tier3_meets_all": "WWC rated tier 3 a finding that meets every tier 1 or 2 criterion.",
    "tier1_2_level_mismatch": "Both say tier 1 or 2, but not the same one.",
    "standards_5_unrated": "Standards 5.0 reviews (2024-2025) carry no ESSA tiers yet.",
    "wwc_unrated_blank_finding_rating": (
        "WWC left unrated a legacy finding that has no finding-level rating; we fall back to "
        "the study rating."
    ),
    "wwc_unrated_meets_criteria": (
        "WWC left unrated a full-sample, significant, positive finding that meets standards."
    ),
    "other": "None of the above.",
}


def _unrated_kind(wwc: WwcStudy, index: int) -> str:
    if wwc.standards_version.startswith("5"):
        return "standards_5_unrated"
    if wwc.findings[index].rating_from_study:
        return "wwc_unrated_blank_finding_rating"
    return "wwc_unrated_meets_criteria"


def _rated_kind(wwc: WwcStudy, index: int, ours: TierKey, thresholds: Thresholds) -> str:
    study, finding = wwc.study, wwc.study.findings[index]
    theirs = wwc.findings[index].wwc_tier
    checks = (
        (wwc.findings[index].significance_flag != "True", "wwc_flag_not_significant"),
        (finding.direction is not Direction.FAVORABLE, "wwc_rated_not_favorable"),
        (ours is not None and ours <= Tier.MODERATE < (theirs or 0), "wwc_tier3_meets_all"),
        (
            ours is not None and theirs is not None and ours < Tier.PROMISING,
            "tier1_2_level_mismatch",
        ),
        (study.design is Design.OTHER, "wwc_rated_design_unknown"),
        ((finding.sample_size or 0) < thresholds.min_sample_size, "wwc_tier1_2_small_slice"),
        ((study.site_count or 0) < thresholds.min_sites, "wwc_tier1_2_not_multisite"),
    )
    kind = next((kind for failed, kind in checks if failed), "other")
    if kind == "wwc_tier3_meets_all" and _version(wwc.standards_version) < (2, 1):
        return "wwc_tier3_pre_2_1_standards"
    return kind


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def _by_wwc_study(studies: Iterable[WwcStudy]) -> list[list[WwcStudy]]:
    groups: dict[str, list[WwcStudy]] = defaultdict(list)
    for wwc in studies:
        groups[wwc.study_id].append(wwc)
    return list(groups.values())


def _overriding_labels(group: Sequence[WwcStudy]) -> frozenset[str]:
    return frozenset(
        normalise_label(wwc.findings[index].outcome_domain)
        for wwc in group
        if wwc.study.standards_rating in MEETS_STANDARDS
        for index, finding in enumerate(wwc.study.findings)
        if finding.significant
        and finding.direction is Direction.UNFAVORABLE
        and not finding.subgroup
    )


def agreement(
    studies: Iterable[WwcStudy], thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> AgreementReport:
    """Compare our context-free finding tiers, after overriding evidence, with WWC's.

    Overriding evidence applies across all reviews of one WWC study (as `roll_up` does across
    a partner's studies), not across studies of an intervention. Tier 4 cannot arise, since
    the export has no rationale data, so WWC's blank is compared with our None.
    """
    findings = rated = agreeing = agreeing_plain = unrated_agreeing = 0
    confusion: dict[TierKey, Counter[TierKey]] = defaultdict(Counter)
    kinds: dict[str, list[str]] = defaultdict(list)
    for group in _by_wwc_study(studies):
        classified = classify_together([wwc.study for wwc in group], thresholds)
        overriding = _overriding_labels(group)
        for wwc, classification in zip(group, classified, strict=True):
            for index, result in enumerate(classification.findings):
                meta = wwc.findings[index]
                plain = classify_finding(wwc.study, wwc.study.findings[index], thresholds).tier
                findings += 1
                confusion[meta.wwc_tier][result.tier] += 1
                if meta.wwc_tier is None:
                    unrated_agreeing += result.tier is None
                else:
                    rated += 1
                    agreeing += result.tier == meta.wwc_tier
                    agreeing_plain += plain == meta.wwc_tier
                if result.tier == meta.wwc_tier:
                    continue
                if any(r.code is ReasonCode.OVERRIDDEN_BY_UNFAVORABLE for r in result.reasons):
                    same = normalise_label(meta.outcome_domain) in overriding
                    kind = "overridden_same_wwc_domain" if same else "overridden_via_domain_map"
                elif meta.wwc_tier is None:
                    kind = _unrated_kind(wwc, index)
                else:
                    kind = _rated_kind(wwc, index, result.tier, thresholds)
                kinds[kind].append(meta.finding_id)
    disagreements = tuple(
        Disagreement(kind, KINDS[kind], len(ids), tuple(ids[:_EXAMPLES]))
        for kind, ids in sorted(kinds.items(), key=lambda item: (-len(item[1]), item[0]))
    )
    return AgreementReport(
        findings=findings,
        rated=rated,
        agreeing=agreeing,
        agreeing_without_override=agreeing_plain,
        unrated_agreeing=unrated_agreeing,
        confusion={theirs: dict(row) for theirs, row in confusion.items()},
        disagreements=disagreements,
    )


def _tier_label(tier: TierKey) -> str:
    return "none" if tier is None else f"T{int(tier)}"


def format_report(report: AgreementReport) -> str:
    tiers: list[TierKey] = [Tier.STRONG, Tier.MODERATE, Tier.PROMISING, Tier.RATIONALE, None]
    columns = [tier for tier in tiers if any(tier in row for row in report.confusion.values())]
    rows = [tier for tier in tiers if tier in report.confusion]
    unrated = report.findings - report.rated
    lines = [
        f"WWC findings: {report.findings}; rated by WWC: {report.rated}",
        f"Agreement on rated findings: {report.agreeing}/{report.rated} = {report.rate:.1%}",
        "Without overriding evidence: "
        f"{report.agreeing_without_override}/{report.rated} = {report.rate_without_override:.1%}",
        f"Unrated findings we also leave untiered: {report.unrated_agreeing}/{unrated}",
        "",
        "WWC tier (rows) x our tier (columns):",
        "WWC/ours" + "".join(f"{_tier_label(tier):>8}" for tier in columns),
    ]
    lines += [
        f"{_tier_label(theirs):>8}"
        + "".join(f"{report.confusion[theirs].get(ours, 0):>8}" for ours in columns)
        for theirs in rows
    ]
    lines += ["", "Disagreements (kind: count, example WWC finding ids):"]
    for item in report.disagreements:
        lines.append(f"  {item.kind}: {item.count} ({', '.join(item.examples)})")
        lines.append(f"      {item.description}")
    return "\n".join(lines)
