import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
)

from app.auth.principal import Principal
from app.core.schemas import Code, LongText, Omittable, RequestModel, ShortText
from app.core.vocabulary import GradeBand, Locale
from app.evidence.classifier import Classification, Design, Direction, Reason, StandardsRating
from app.evidence.models import Evidence, EvidenceDecision, EvidenceDecisionKind, EvidenceStatus
from app.partners.schemas import GradeBands, Locales, Website

MAX_SAMPLE = 100_000_000
MAX_SITES = 1_000_000
MAX_FINDINGS = 200


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


StudentGroups = Annotated[list[Code], Field(max_length=20), AfterValidator(_unique)]
SampleSize = Annotated[StrictInt, Field(ge=0, le=MAX_SAMPLE)]
SiteCount = Annotated[StrictInt, Field(ge=0, le=MAX_SITES)]
FinalTier = Annotated[StrictInt, Field(ge=1, le=4)]


class FindingIn(RequestModel):
    need_domain: Code
    outcome: ShortText
    direction: Direction
    significant: StrictBool
    # Strict: JSON Schema's number is not a boolean, though Python's bool is an int.
    effect_size: StrictFloat | None = Field(default=None, ge=-100, le=100, allow_inf_nan=False)
    p_value: StrictFloat | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    sample_size: SampleSize | None = Field(
        default=None, description="The finding's own analytic sample, when it differs."
    )
    subgroup: StrictBool = Field(default=False, description="A finding on a subgroup only.")


Findings = Annotated[list[FindingIn], Field(max_length=MAX_FINDINGS)]


class StudyFields(RequestModel):
    title: ShortText
    citation: LongText = ""
    url: Website | None = None
    design: Design
    standards_rating: StandardsRating
    controls_for_selection_bias: StrictBool = False
    sample_size: SampleSize | None = Field(description="Analytic sample (individuals).")
    site_count: SiteCount | None = Field(description="Districts, schools or other locations.")
    grade_bands: GradeBands = []
    locales: Locales = []
    student_groups: StudentGroups = []
    has_logic_model: StrictBool = False
    research_basis: StrictBool = False
    ongoing_evaluation: StrictBool = False
    findings: Findings


class EvidenceCreate(StudyFields):
    pass


class EvidenceUpdate(Omittable):
    """Only the fields sent change; `findings`, when sent, replaces the whole list."""

    # Unknown is a value for these: null clears them.
    clearable = frozenset({"url", "sample_size", "site_count"})

    title: ShortText | None = None
    citation: LongText | None = None
    url: Website | None = None
    design: Design | None = None
    standards_rating: StandardsRating | None = None
    controls_for_selection_bias: StrictBool | None = None
    sample_size: SampleSize | None = None
    site_count: SiteCount | None = None
    grade_bands: GradeBands | None = None
    locales: Locales | None = None
    student_groups: StudentGroups | None = None
    has_logic_model: StrictBool | None = None
    research_basis: StrictBool | None = None
    ongoing_evaluation: StrictBool | None = None
    findings: Findings | None = None


class DistrictContextIn(RequestModel):
    grade_bands: GradeBands = []
    student_groups: StudentGroups = []
    locales: Locales = []


class ClassifyRequest(StudyFields):
    context: DistrictContextIn | None = Field(
        default=None, description="A district's context: also classify the study for it."
    )


class DecisionIn(RequestModel):
    decision: EvidenceDecisionKind
    tier: FinalTier | None = Field(
        default=None, description="Accept only: the final tier when it differs from the computed."
    )
    rationale: LongText = Field(
        default="",
        description="State staff only. Required to return, reject or set a tier of your own.",
    )
    feedback: LongText = Field(default="", description="Shown to the partner, e.g. what to fix.")


class ReasonRead(BaseModel):
    code: str
    message: str


class DomainTierRead(BaseModel):
    need_domain: str
    tier: int | None


class ClassificationRead(BaseModel):
    tier: int | None
    domains: list[DomainTierRead]
    reasons: list[ReasonRead]


class FindingResultRead(BaseModel):
    tier: int | None
    reasons: list[ReasonRead]


class StudyClassification(ClassificationRead):
    findings: list[FindingResultRead] = Field(description="Parallel to the study's findings.")


class ClassifyResult(StudyClassification):
    in_context: StudyClassification | None = Field(
        description="The tiers for the district context sent, if any."
    )


class FindingRead(BaseModel):
    need_domain: str
    outcome: str
    direction: Direction
    significant: bool
    effect_size: float | None
    p_value: float | None
    sample_size: int | None
    subgroup: bool
    tier: int | None
    reasons: list[ReasonRead]


class DocumentRead(BaseModel):
    sha256: str
    size: int
    uploaded_at: datetime


class EvidenceDecisionRead(BaseModel):
    decision: EvidenceDecisionKind
    evidence_version: int = Field(description="The version of the record that was decided.")
    computed_tier: int | None
    final_tier: int | None
    feedback: str
    rationale: str | None = Field(default=None, description="State staff only.")
    decided_by: uuid.UUID | None = Field(default=None, description="State staff only.")
    decided_at: datetime


class EvidenceRead(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    status: EvidenceStatus
    title: str
    citation: str
    url: str | None
    design: Design
    standards_rating: StandardsRating
    controls_for_selection_bias: bool
    sample_size: int | None
    site_count: int | None
    grade_bands: list[GradeBand]
    locales: list[Locale]
    student_groups: list[str]
    has_logic_model: bool
    research_basis: bool
    ongoing_evaluation: bool
    findings: list[FindingRead]
    classification: ClassificationRead = Field(description="Computed, context-free.")
    computed_tier: int | None
    final_tier: int | None = Field(description="The reviewer's tier, once accepted.")
    document: DocumentRead | None
    decisions: list[EvidenceDecisionRead] = Field(
        description="Every decision so far, oldest first."
    )
    source: str | None = Field(description="`wwc` for imported records; null when submitted.")
    external_id: str | None
    submitted_at: datetime
    version: int
    created_at: datetime
    updated_at: datetime


def reasons_json(reasons: tuple[Reason, ...]) -> list[dict[str, str]]:
    return [{"code": reason.code.value, "message": reason.message} for reason in reasons]


def _reason_reads(reasons: tuple[Reason, ...]) -> list[ReasonRead]:
    return [ReasonRead(code=reason.code.value, message=reason.message) for reason in reasons]


def study_classification(classification: Classification) -> StudyClassification:
    return StudyClassification(
        tier=classification.tier,
        domains=[
            DomainTierRead(need_domain=domain.need_domain, tier=domain.tier)
            for domain in classification.domains
        ],
        reasons=_reason_reads(classification.reasons),
        findings=[
            FindingResultRead(
                tier=result.tier,
                reasons=_reason_reads(result.reasons),
            )
            for result in classification.findings
        ],
    )


def _decision_read(row: EvidenceDecision, principal: Principal) -> EvidenceDecisionRead:
    staff = principal.is_state_staff
    return EvidenceDecisionRead(
        decision=row.decision,
        evidence_version=row.evidence_version,
        computed_tier=row.computed_tier,
        final_tier=row.final_tier,
        feedback=row.feedback,
        rationale=row.rationale if staff else None,
        decided_by=row.decided_by if staff else None,
        decided_at=row.decided_at,
    )


def evidence_read(evidence: Evidence, principal: Principal) -> EvidenceRead:
    """The record as this caller may see it: reviewers' rationale is for state staff only."""
    document = (
        DocumentRead(
            sha256=evidence.document_sha256,
            size=evidence.document_size,
            uploaded_at=evidence.document_uploaded_at,
        )
        if evidence.document_sha256 is not None
        and evidence.document_size is not None
        and evidence.document_uploaded_at is not None
        else None
    )
    return EvidenceRead(
        id=evidence.id,
        partner_id=evidence.partner_id,
        status=evidence.status,
        title=evidence.title,
        citation=evidence.citation,
        url=evidence.url,
        design=evidence.design,
        standards_rating=evidence.standards_rating,
        controls_for_selection_bias=evidence.controls_for_selection_bias,
        sample_size=evidence.sample_size,
        site_count=evidence.site_count,
        grade_bands=[GradeBand(value) for value in evidence.grade_bands],
        locales=[Locale(value) for value in evidence.locales],
        student_groups=list(evidence.student_groups),
        has_logic_model=evidence.has_logic_model,
        research_basis=evidence.research_basis,
        ongoing_evaluation=evidence.ongoing_evaluation,
        findings=[
            FindingRead(
                need_domain=finding.need_domain,
                outcome=finding.outcome,
                direction=finding.direction,
                significant=finding.significant,
                effect_size=finding.effect_size,
                p_value=finding.p_value,
                sample_size=finding.sample_size,
                subgroup=finding.subgroup,
                tier=finding.tier,
                reasons=[ReasonRead.model_validate(reason) for reason in finding.reasons],
            )
            for finding in evidence.findings
        ],
        classification=ClassificationRead.model_validate(evidence.classification),
        computed_tier=evidence.computed_tier,
        final_tier=evidence.final_tier,
        document=document,
        decisions=[_decision_read(row, principal) for row in evidence.decisions],
        source=evidence.source,
        external_id=evidence.external_id,
        submitted_at=evidence.submitted_at,
        version=evidence.version,
        created_at=evidence.created_at,
        updated_at=evidence.updated_at,
    )
