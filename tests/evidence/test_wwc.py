"""The WWC export parser and the agreement of our tiers with WWC's own."""

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from app.evidence.classifier import Design, Direction, StandardsRating, Tier
from app.evidence.wwc import (
    KINDS,
    AgreementReport,
    WwcStudy,
    agreement,
    format_report,
    load_domain_map,
    normalise_label,
    parse_export,
)

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MAP = ROOT / "seed/wwc_domain_map.csv"
SAMPLE = ROOT / "tests/data/wwc_sample.csv"
WWC_DIR = Path(__file__).resolve().parents[3] / "shared/data/wwc"
SLIM = WWC_DIR / "wwc_2025_findings_essa_slim.csv"
RAW = WWC_DIR / "Interventions_Studies_And_Findings.csv"
NEED_DOMAINS = {
    "staffing", "learning_time", "climate_culture", "student_supports", "leadership",
    "instruction", "data_use", "family_engagement", "literacy", "mathematics", "graduation",
    "english_learners", "special_education",
}  # fmt: skip


@pytest.fixture(scope="module")
def domain_map() -> dict[str, str]:
    return load_domain_map(DOMAIN_MAP)


# Parsing single rows

COLUMNS = {
    "ReviewID": "10",
    "s_StudyID": "1",
    "f_FindingID": "100",
    "s_interventionID": "7",
    "s_Intervention_Name": "Reading Buddies",
    "f_ESSA_Rating": "Evidence Tier 1",
    "s_Study_Design": "Randomized Controlled Trial",
    "s_Study_Rating": "Meets WWC standards without reservations",
    "f_Finding_Rating": "Meets WWC standards without reservations",
    "f_Outcome_Sample_Size": "400",
    "s_Multisite": "True",
    "f_Is_Statistically_Significant": "True",
    "f_p_Value_WWC": "0.01",
    "f_Effect_Size_WWC": "0.2",
    "f_Effect_Size_Study": "",
    "f_Improvement_Index": "8",
    "f_FavorableUnfavorableDesignation": "",
    "f_Is_Subgroup": "False",
    "f_Outcome_Domain": "Comprehension",
    "f_Outcome_Measure": "GRADE",
    "s_Standards_Version": "4.1",
    "s_Purpose_of_Review": "Single Study Review",
    "s_Study_Page_URL": "/Study/1",
    "s_Urbanicity_Rural": "",
    "s_Urbanicity_Suburban": "1.00",
    "s_Urbanicity_Urban": "2.00",
    **{f"s_Grade_{grade}": "" for grade in ["PS", "PK", "K", *map(str, range(1, 13))]},
    "s_Grade_3": "1.00",
    "s_Grade_10": "1.00",
}


def export(*rows: dict[str, str]) -> io.StringIO:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({**COLUMNS, **row})
    text.seek(0)
    return text


def parse_one(domain_map: dict[str, str], **row: str) -> WwcStudy:
    (study,) = parse_export(export(row), domain_map)
    return study


def test_parse_row(domain_map: dict[str, str]) -> None:
    wwc = parse_one(domain_map)
    study, (finding,) = wwc.study, wwc.study.findings
    assert (wwc.study_id, wwc.review_id, wwc.intervention_id) == ("1", "10", "7")
    assert wwc.url == "https://ies.ed.gov/ncee/wwc/Study/1"
    assert wwc.title == "Reading Buddies"  # the slim file has no citation
    assert study.design is Design.RCT
    assert study.standards_rating is StandardsRating.MEETS_WITHOUT_RESERVATIONS
    assert study.controls_for_selection_bias
    assert (study.sample_size, study.site_count) == (None, 2)
    assert study.grade_bands == {"elementary", "high"}
    assert study.locales == {"suburb", "city"}
    assert study.student_groups == frozenset()
    assert not study.has_logic_model
    assert not study.research_basis
    assert not study.ongoing_evaluation
    assert finding.need_domain == "literacy"
    assert finding.direction is Direction.FAVORABLE
    assert finding.significant
    assert (finding.sample_size, finding.effect_size, finding.p_value) == (400, 0.2, 0.01)
    assert not finding.subgroup
    assert wwc.findings[0].wwc_tier is Tier.STRONG


@pytest.mark.parametrize(
    ("text", "design"),
    [
        ("Randomized Controlled Trial", Design.RCT),
        ("Randomized controlled trial", Design.RCT),
        ("Quasi-Experimental Design", Design.QED),
        ("Regression Discontinuity Design", Design.RDD),
        ("Single Case Design", Design.OTHER),
        ("", Design.OTHER),
    ],
)
def test_design(domain_map: dict[str, str], text: str, design: Design) -> None:
    assert parse_one(domain_map, s_Study_Design=text).study.design is design


@pytest.mark.parametrize(
    ("finding_rating", "study_rating", "rating"),
    [
        ("Meets WWC standards with reservations", "", StandardsRating.MEETS_WITH_RESERVATIONS),
        (
            "",
            "Meets WWC standards without reservations",
            StandardsRating.MEETS_WITHOUT_RESERVATIONS,
        ),
        ("", "Does not meet WWC standards", StandardsRating.DOES_NOT_MEET),
        ("", "Ineligible for review", StandardsRating.NOT_REVIEWED),
    ],
)
def test_rating_falls_back_to_the_study(
    domain_map: dict[str, str], finding_rating: str, study_rating: str, rating: StandardsRating
) -> None:
    wwc = parse_one(domain_map, f_Finding_Rating=finding_rating, s_Study_Rating=study_rating)
    assert wwc.study.standards_rating is rating
    assert wwc.study.controls_for_selection_bias == rating.startswith("meets")
    assert wwc.findings[0].rating_from_study == (not finding_rating)


@pytest.mark.parametrize(
    ("index", "wwc_g", "study_g", "label", "essa", "direction"),
    [
        # WWC's own word first: its label, then its rating (of favorable effects only).
        ("", "-0.1", "", "Favorable", "", Direction.FAVORABLE),
        ("3", "0.1", "", "Unfavorable", "Evidence Tier 3", Direction.UNFAVORABLE),
        ("-6", "", "", "", "Evidence Tier 3", Direction.FAVORABLE),
        ("0", "0", "-0.23", "", "Evidence Tier 1", Direction.FAVORABLE),
        # Then the signs, where WWC says neither.
        ("-3", "0.2", "", "", "", Direction.UNFAVORABLE),
        ("0", "0.1", "", "", "", Direction.FAVORABLE),
        ("", "", "0.3", "", "", Direction.FAVORABLE),
        ("2", "", "", "No discernable effect size direction", "", Direction.FAVORABLE),
        ("", "", "", "Unfavorable", "", Direction.UNFAVORABLE),
        ("", "", "", "No discernable effect size direction", "", Direction.NONE),
        ("", "", "", "", "", Direction.NONE),
    ],
)
def test_direction_cascade(
    domain_map: dict[str, str],
    *,
    index: str,
    wwc_g: str,
    study_g: str,
    label: str,
    essa: str,
    direction: Direction,
) -> None:
    wwc = parse_one(
        domain_map,
        f_Improvement_Index=index,
        f_Effect_Size_WWC=wwc_g,
        f_Effect_Size_Study=study_g,
        f_FavorableUnfavorableDesignation=label,
        f_ESSA_Rating=essa,
    )
    assert wwc.study.findings[0].direction is direction


@pytest.mark.parametrize(("text", "sites"), [("True", 2), ("False", 1), ("", None)])
def test_multisite(domain_map: dict[str, str], text: str, sites: int | None) -> None:
    assert parse_one(domain_map, s_Multisite=text).study.site_count == sites


def test_blanks(domain_map: dict[str, str]) -> None:
    wwc = parse_one(
        domain_map,
        f_Outcome_Sample_Size="0",
        f_Is_Statistically_Significant="",
        f_p_Value_WWC="",
        f_Effect_Size_WWC="",
        f_ESSA_Rating="",
        f_Is_Subgroup="True",
        s_Urbanicity_Suburban="",
        s_Urbanicity_Urban="",
        s_Grade_3="",
        s_Grade_10="",
    )
    study, finding = wwc.study, wwc.study.findings[0]
    assert finding.sample_size is None
    assert not finding.significant
    assert (finding.p_value, finding.effect_size) == (None, None)
    assert finding.subgroup
    assert study.grade_bands == study.locales == frozenset()
    assert wwc.findings[0].wwc_tier is None


@pytest.mark.parametrize("text", ["", "0", "-5", "nan", "n/a"])
def test_unusable_sample_sizes_are_unknown(domain_map: dict[str, str], text: str) -> None:
    assert parse_one(domain_map, f_Outcome_Sample_Size=text).study.findings[0].sample_size is None


def test_grouping_by_review_and_rating(domain_map: dict[str, str]) -> None:
    rows = [
        {"f_FindingID": "1"},
        {"f_FindingID": "2", "f_Finding_Rating": "Meets WWC standards with reservations"},
        {"f_FindingID": "3", "ReviewID": "11"},
        {"f_FindingID": "4"},
    ]
    studies = parse_export(export(*rows), domain_map)
    assert [[f.finding_id for f in s.findings] for s in studies] == [["1", "4"], ["2"], ["3"]]


def test_labels_are_normalised(domain_map: dict[str, str]) -> None:
    wwc = parse_one(domain_map, f_Outcome_Domain="Word reading\xa0")
    assert wwc.study.findings[0].need_domain == "literacy"
    assert normalise_label("  General science  achievement ") == "General science achievement"


def test_a_postsecondary_sample_is_in_no_grade_band(domain_map: dict[str, str]) -> None:
    """s_Grade_PS is postsecondary (ReviewDictionary.csv), not pre-K: a college programme's
    tier 1 must not count as tier 1 for a pre-K plan."""
    college = {"s_Grade_3": "", "s_Grade_10": "", "s_Grade_PS": "1.00"}
    assert parse_one(domain_map, **college).study.grade_bands == frozenset()
    both = college | {"s_Grade_PK": "1.00"}
    assert parse_one(domain_map, **both).study.grade_bands == {"prek"}


def test_a_file_cut_short_is_refused(domain_map: dict[str, str]) -> None:
    """A download cut mid-row would import part of its last study review, which a later
    import of the whole file would take as done."""
    text = SAMPLE.read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    cut = "".join(lines[:40]) + lines[40][: len(lines[40]) // 2]
    with pytest.raises(ValueError, match="cut short"):
        parse_export(io.StringIO(cut), domain_map)
    header, row = text.splitlines()[:2]
    with pytest.raises(ValueError, match="line 2: not"):
        parse_export(io.StringIO(f"{header}\n{row},extra\n"), domain_map)


def test_a_repeated_finding_is_refused(domain_map: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="row 2: finding 100 repeats row 1"):
        parse_export(export({}, {"ReviewID": "11"}), domain_map)


def test_unmapped_domains_are_reported(domain_map: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="Astrology"):
        parse_export(export({"f_Outcome_Domain": "Astrology"}), domain_map)


def test_citation_gives_the_title(domain_map: dict[str, str]) -> None:
    rows = [{"s_Citation": "Doe, J. (2001). Reading together. [Grade 3]. Journal, v1 p1-9."}]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*COLUMNS, "s_Citation"])
    writer.writeheader()
    writer.writerow({**COLUMNS, **rows[0]})
    text.seek(0)
    (wwc,) = parse_export(text, domain_map)
    assert wwc.title == "Reading together"
    assert wwc.citation.startswith("Doe, J.")


# The domain map


def test_domain_map_targets_need_domains(domain_map: dict[str, str]) -> None:
    assert len(domain_map) == 199
    assert set(domain_map.values()) <= NEED_DOMAINS
    assert domain_map["Reading achievement"] == "literacy"
    assert domain_map["General Mathematics Achievement"] == "mathematics"
    assert domain_map["English language proficiency"] == "english_learners"
    assert domain_map["High School Completion"] == "graduation"


# The committed sample


@pytest.fixture(scope="module")
def sample(domain_map: dict[str, str]) -> list[WwcStudy]:
    return parse_export(SAMPLE, domain_map)


def test_sample_covers_the_edge_cases(sample: list[WwcStudy]) -> None:
    findings = [(w, i) for w in sample for i in range(len(w.findings))]
    assert len(findings) == 308
    assert SAMPLE.stat().st_size < 400_000
    tiers = Counter(w.findings[i].wwc_tier for w, i in findings)
    assert set(tiers) == {Tier.STRONG, Tier.MODERATE, Tier.PROMISING, None}
    assert any(w.study.findings[i].subgroup for w, i in findings)
    assert any(w.study.findings[i].sample_size is None for w, i in findings)
    assert {w.study.site_count for w in sample} == {1, 2, None}
    assert {w.study.design for w in sample} >= {Design.RCT, Design.QED, Design.RDD, Design.OTHER}
    assert {w.study.standards_rating for w in sample} == set(StandardsRating)
    assert any(w.findings[i].significance_flag == "" for w, i in findings)


def test_sample_agreement(sample: list[WwcStudy]) -> None:
    report = agreement(sample)
    assert (report.findings, report.rated) == (308, 71)
    assert report.agreeing_without_override == 65
    assert report.agreeing == 60
    assert report.confusion[Tier.MODERATE].get(Tier.STRONG, 0) == 0
    assert report.confusion[Tier.PROMISING].get(Tier.STRONG, 0) == 0
    kinds = {d.kind for d in report.disagreements}
    assert {"overridden_same_wwc_domain", "overridden_via_domain_map"} <= kinds
    assert kinds <= set(KINDS)
    assert sum(d.count for d in report.disagreements) == report.findings - sum(
        report.confusion[tier].get(tier, 0) for tier in report.confusion
    )


def test_format_report(sample: list[WwcStudy]) -> None:
    text = format_report(agreement(sample))
    assert "Agreement on rated findings: 60/71 = 84.5%" in text
    assert "Without overriding evidence: 65/71 = 91.5%" in text
    assert "overridden_via_domain_map: 2" in text
    assert 10 < len(text.splitlines()) < 60


def test_stream_and_path_give_the_same_studies(domain_map: dict[str, str]) -> None:
    with SAMPLE.open(encoding="utf-8", newline="") as stream:
        assert parse_export(stream, domain_map) == parse_export(str(SAMPLE), domain_map)


# The full export (kept beside the repository, not in it)


@pytest.fixture(scope="module")
def full_report(domain_map: dict[str, str]) -> AgreementReport:
    if not SLIM.exists():
        pytest.skip(f"WWC export not found at {SLIM} (see ../shared/data/wwc/SOURCE.md)")
    studies = parse_export(SLIM, domain_map)
    assert len({w.study_id for w in studies}) == 1601
    return agreement(studies)


def test_full_export_agreement(full_report: AgreementReport) -> None:
    assert full_report.findings == 13_023
    assert full_report.rated == 2_097
    assert full_report.rate_without_override >= 0.98
    # The override is ours, not WWC's finding-level practice: it costs agreement (see report).
    assert full_report.rate >= 0.9
    assert full_report.rate < full_report.rate_without_override
    # We never call strong what WWC calls moderate or promising.
    assert full_report.confusion[Tier.MODERATE].get(Tier.STRONG, 0) == 0
    assert full_report.confusion[Tier.PROMISING].get(Tier.STRONG, 0) == 0
    assert "other" not in {d.kind for d in full_report.disagreements}


def test_raw_export_gives_the_same_agreement(
    domain_map: dict[str, str], full_report: AgreementReport
) -> None:
    if not RAW.exists():
        pytest.skip(f"raw WWC export not found at {RAW}")
    raw = agreement(parse_export(RAW, domain_map))
    assert (raw.rated, raw.agreeing, raw.agreeing_without_override) == (
        full_report.rated,
        full_report.agreeing,
        full_report.agreeing_without_override,
    )
