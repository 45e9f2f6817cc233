import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, Field, StrictBool, StrictInt, StringConstraints, model_validator

from app.core.schemas import Code, LongText, RequestModel, ShortText
from app.reviews.models import APPROVING, Review, ReviewDecisionKind, Rubric, ScoreSheet
from app.reviews.scoring import Summary

MAX_SCALE = 100
MAX_CRITERIA = 50
MAX_TERM_MONTHS = 120

Statement = Annotated[LongText, StringConstraints(min_length=1)]
Condition = Annotated[LongText, StringConstraints(min_length=1, max_length=2000)]


class Scale(BaseModel):
    min: StrictInt = Field(ge=0, le=MAX_SCALE)
    max: StrictInt = Field(ge=1, le=MAX_SCALE)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class ScaleIn(Scale, RequestModel):
    pass


class CriterionFields(BaseModel):
    code: Code
    name: ShortText
    description: LongText = ""
    weight: StrictInt = Field(ge=1, le=100, description="Relative weight in the overall score.")
    required: StrictBool = Field(default=False, description="Must be scored before an approval.")


class CriterionIn(CriterionFields, RequestModel):
    pass


class RubricCreate(RequestModel):
    """A new rubric, or the next version of an existing one when the name is taken."""

    name: ShortText
    criteria: Annotated[list[CriterionIn], Field(min_length=1, max_length=MAX_CRITERIA)]
    scale: ScaleIn

    @model_validator(mode="after")
    def _unique_codes(self) -> Self:
        codes = [criterion.code for criterion in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("criterion codes must be unique")
        return self


class RubricRead(BaseModel):
    id: uuid.UUID
    name: str
    version: int
    criteria: list[CriterionFields]
    scale: Scale
    created_at: datetime


class RubricRef(BaseModel):
    id: uuid.UUID
    name: str
    version: int


class ReviewCreate(RequestModel):
    rubric_id: uuid.UUID | None = Field(
        default=None, description="Defaults to the latest version of the default rubric."
    )


class ConflictOfInterest(RequestModel):
    # Strict, as every flag a client sends: "no" or 0 must not be read as a declaration.
    declared: StrictBool
    statement: Statement


class ScoreIn(RequestModel):
    criterion: Code
    score: StrictInt = Field(ge=0, le=MAX_SCALE, description="Within the rubric's scale.")
    notes: LongText = ""


class ScoresPut(RequestModel):
    conflict_of_interest: ConflictOfInterest
    scores: Annotated[list[ScoreIn], Field(max_length=MAX_CRITERIA)] = []

    @model_validator(mode="after")
    def _one_score_per_criterion(self) -> Self:
        codes = [score.criterion for score in self.scores]
        if len(set(codes)) != len(codes):
            raise ValueError("score each criterion at most once")
        return self


class ConflictRead(BaseModel):
    declared: bool
    statement: str


class ScoreRead(BaseModel):
    criterion: str
    score: int
    notes: str


class SheetRead(BaseModel):
    id: uuid.UUID
    review_id: uuid.UUID
    reviewer_id: uuid.UUID
    conflict_of_interest: ConflictRead
    scores: list[ScoreRead]
    version: int
    created_at: datetime
    updated_at: datetime


class DecisionCreate(RequestModel):
    decision: ReviewDecisionKind
    term_months: StrictInt | None = Field(
        default=None,
        ge=1,
        le=MAX_TERM_MONTHS,
        description="Approvals only; defaults to the designation term setting.",
    )
    conditions: Annotated[list[Condition], Field(max_length=20)] = []
    rationale: Statement

    @model_validator(mode="after")
    def _fits_the_decision(self) -> Self:
        if self.term_months is not None and self.decision not in APPROVING:
            raise ValueError("term_months applies to approvals only")
        if (self.decision is ReviewDecisionKind.APPROVE_WITH_CONDITIONS) != bool(self.conditions):
            raise ValueError("conditions go with approve_with_conditions, and only with it")
        return self


class ReviewDecisionRead(BaseModel):
    decision: ReviewDecisionKind
    term_months: int | None
    conditions: list[str]
    rationale: str
    decided_by: uuid.UUID
    decided_at: datetime


class PartnerDecisionRead(BaseModel):
    """What the partner sees of a decision: never the scores, notes or internal rationale."""

    decision: ReviewDecisionKind
    term_months: int | None
    conditions: list[str]
    decided_at: datetime


class ReviewState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class CriterionScoreRead(BaseModel):
    criterion: str
    mean: float | None
    normalised: float | None = Field(description="(mean - scale.min) / (scale.max - scale.min)")
    reviewers: int


class Scoring(BaseModel):
    overall: float | None = Field(
        description="Weighted mean of the normalised criterion scores, in [0, 1]; "
        "null until something is scored."
    )
    criteria: list[CriterionScoreRead]
    unscored_required: list[str]


class TrackRecordRead(BaseModel):
    """The partner's track record as matching counts it, for the track-record criterion."""

    value: float | None = Field(
        description="0 to 1, from the latest check-in of each of its engagements; null without "
        "any (matching then counts 0.5)."
    )
    engagements: int = Field(description="How many engagements with a check-in it rests on.")


@dataclass(frozen=True)
class PartnerFacts:
    """What the registry itself knows of the partner, shown beside the reviewers' scores."""

    evidence_tiers: dict[str, int]
    track_record: TrackRecordRead


class ReviewRead(BaseModel):
    """The full review, for state staff."""

    id: uuid.UUID
    partner_id: uuid.UUID
    rubric: RubricRead
    state: ReviewState
    opened_by: uuid.UUID
    created_at: datetime
    evidence_tiers: dict[str, int] = Field(
        description="The partner's accepted ESSA tier per need domain, for the evidence criterion."
    )
    track_record: TrackRecordRead
    sheets: list[SheetRead]
    scoring: Scoring
    decision: ReviewDecisionRead | None


class PartnerReviewRead(BaseModel):
    """A review as the reviewed partner sees it."""

    id: uuid.UUID
    partner_id: uuid.UUID
    rubric: RubricRef
    state: ReviewState
    created_at: datetime
    decision: PartnerDecisionRead | None


def rubric_read(rubric: Rubric) -> RubricRead:
    return RubricRead(
        id=rubric.id,
        name=rubric.name,
        version=rubric.version,
        criteria=[CriterionFields.model_validate(row) for row in rubric.criteria],
        scale=Scale(min=rubric.scale_min, max=rubric.scale_max),
        created_at=rubric.created_at,
    )


def sheet_read(sheet: ScoreSheet) -> SheetRead:
    return SheetRead(
        id=sheet.id,
        review_id=sheet.review_id,
        reviewer_id=sheet.reviewer_id,
        conflict_of_interest=ConflictRead(
            declared=sheet.conflict_declared, statement=sheet.conflict_statement
        ),
        scores=[
            ScoreRead(criterion=s.criterion, score=s.score, notes=s.notes) for s in sheet.scores
        ],
        version=sheet.version,
        created_at=sheet.created_at,
        updated_at=sheet.updated_at,
    )


def _state(review: Review) -> ReviewState:
    return ReviewState.OPEN if review.decision is None else ReviewState.DECIDED


def review_read(review: Review, summary: Summary, facts: PartnerFacts) -> ReviewRead:
    decision = review.decision
    return ReviewRead(
        id=review.id,
        partner_id=review.partner_id,
        rubric=rubric_read(review.rubric),
        state=_state(review),
        opened_by=review.opened_by,
        created_at=review.created_at,
        evidence_tiers=facts.evidence_tiers,
        track_record=facts.track_record,
        sheets=[sheet_read(sheet) for sheet in review.sheets],
        scoring=Scoring(
            overall=summary.overall,
            criteria=[
                CriterionScoreRead(
                    criterion=row.code,
                    mean=row.mean,
                    normalised=row.normalised,
                    reviewers=row.reviewers,
                )
                for row in summary.criteria
            ],
            unscored_required=list(summary.unscored_required),
        ),
        decision=None
        if decision is None
        else ReviewDecisionRead(
            decision=decision.decision,
            term_months=decision.term_months,
            conditions=decision.conditions,
            rationale=decision.rationale,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
        ),
    )


def partner_review_read(review: Review) -> PartnerReviewRead:
    decision = review.decision
    return PartnerReviewRead(
        id=review.id,
        partner_id=review.partner_id,
        rubric=RubricRef(
            id=review.rubric.id, name=review.rubric.name, version=review.rubric.version
        ),
        state=_state(review),
        created_at=review.created_at,
        decision=None
        if decision is None
        else PartnerDecisionRead(
            decision=decision.decision,
            term_months=decision.term_months,
            conditions=decision.conditions,
            decided_at=decision.decided_at,
        ),
    )
