import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import Field, StrictInt, model_validator

from app.core.schemas import Day, ResponseModel
from app.needs.schemas import NeedsProfileUpdate

MAX_LIMIT = 50

MatchLimit = Annotated[
    StrictInt, Field(ge=1, le=MAX_LIMIT, description="Results and nearest misses, each at most.")
]
AsOf = Annotated[
    Day, Field(description="Designated through the end of this day (UTC); default: now.")
]
# The fields a match needs when the profile comes inline rather than by needs_id.
INLINE_REQUIRED = ("needs", "funding_source", "min_evidence_tier", "budget_per_school_year")


class MatchCreate(NeedsProfileUpdate):
    """Either `needs_id`, or `district_id` with a needs profile's fields inline."""

    needs_id: uuid.UUID | None = None
    district_id: uuid.UUID | None = None
    limit: MatchLimit = 10
    as_of: AsOf | None = None

    @model_validator(mode="after")
    def _one_source_of_needs(self) -> Self:
        inline = self.model_fields_set & set(NeedsProfileUpdate.model_fields)
        if self.needs_id is not None:
            if inline or self.district_id is not None:
                raise ValueError("send either needs_id or district_id with the profile inline")
            return self
        if self.district_id is None:
            raise ValueError("send needs_id, or district_id with the profile inline")
        missing = [name for name in INLINE_REQUIRED if getattr(self, name) is None]
        if missing:
            raise ValueError(f"an inline profile needs {', '.join(missing)}")
        return self


class ScoreComponents(ResponseModel):
    need_coverage: float
    evidence: float
    due_diligence: float
    track_record: float
    capacity: float
    context_fit: float


class NeedMatch(ResponseModel):
    need_domain: str
    priority: int
    served: bool = Field(description="The partner lists this need domain among those it serves.")
    covered: bool = Field(description="Served, with evidence at the required tier or stronger.")
    required_tier: int
    tier: int | None = Field(description="The strongest tier in the district's context.")
    context_free_tier: int | None
    evidence_ids: list[str] = Field(description="The accepted evidence records behind `tier`.")


class ExclusionReason(ResponseModel):
    code: str
    message: str


class MatchResult(ResponseModel):
    partner_id: uuid.UUID
    name: str
    rank: int
    score: float
    components: ScoreComponents
    needs: list[NeedMatch]


class NearestMiss(ResponseModel):
    partner_id: uuid.UUID
    name: str
    score: float = Field(description="What it would have scored; it is not ranked.")
    components: ScoreComponents
    needs: list[NeedMatch]
    reasons: list[ExclusionReason]


class MatchRead(ResponseModel):
    id: uuid.UUID
    created_at: datetime
    needs_id: uuid.UUID | None
    district_id: uuid.UUID
    as_of: date
    limit: int
    weights: ScoreComponents
    results: list[MatchResult]
    excluded: list[NearestMiss]
    excluded_counts: dict[str, int] = Field(
        description="Partners ruled out, by reason; a partner counts under each of its reasons."
    )


class MatchSummary(ResponseModel):
    id: uuid.UUID
    created_at: datetime
    needs_id: uuid.UUID | None
    district_id: uuid.UUID
    as_of: date
