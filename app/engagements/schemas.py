import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import AfterValidator, Field, StrictInt, WithJsonSchema, model_validator

from app.core.schemas import (
    Day,
    LongText,
    Omittable,
    RequestModel,
    ResponseModel,
    ShortText,
    unique,
)
from app.engagements.lifecycle import INITIAL, EngagementStatus
from app.engagements.track_record import RATING_MAX, RATING_MIN, Progress
from app.partners.schemas import NeedDomains

# A new engagement is planned or active (checked below); the schema lists only those two.
InitialStatus = Annotated[
    EngagementStatus,
    WithJsonSchema(
        {
            "type": "string",
            "enum": [status.value for status in EngagementStatus if status in INITIAL],
        }
    ),
]

MAX_SCHOOLS = 200

Schools = Annotated[
    list[ShortText],
    Field(max_length=MAX_SCHOOLS, description="The schools served, by name; none: the district."),
    AfterValidator(unique),
]


class Intensity(RequestModel):
    """How much both sides put in (the rubric's shared intensity); the dates give the span."""

    days_per_school_year: StrictInt | None = Field(
        default=None, ge=1, le=366, description="Days the partner works with the schools."
    )
    partner_staff: StrictInt | None = Field(
        default=None, ge=1, le=1000, description="People the partner assigns."
    )
    district_staff: StrictInt | None = Field(
        default=None, ge=1, le=100_000, description="District and school staff who take part."
    )


class EngagementCreate(RequestModel):
    partner_id: uuid.UUID
    district_id: uuid.UUID
    needs_id: uuid.UUID | None = Field(default=None, description="The profile it answers.")
    need_domains: NeedDomains
    schools: Schools = []
    intensity: Intensity | None = None
    start_date: Day
    end_date: Day | None = None
    status: InitialStatus = Field(
        default=EngagementStatus.PLANNED, description="planned or active; active uses capacity."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.status not in INITIAL:
            raise ValueError("a new engagement is planned or active")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class EngagementUpdate(Omittable):
    """Only the fields sent change; ``end_date`` and ``intensity`` may be cleared."""

    clearable = frozenset({"end_date", "intensity"})

    need_domains: NeedDomains | None = None
    schools: Schools | None = None
    intensity: Intensity | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    status: EngagementStatus | None = None


class EngagementRead(ResponseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    district_id: uuid.UUID
    needs_id: uuid.UUID | None
    need_domains: list[str]
    schools: list[str]
    intensity: Intensity | None
    start_date: date
    end_date: date | None
    status: EngagementStatus
    version: int
    created_at: datetime
    updated_at: datetime


Rating = Annotated[StrictInt, Field(ge=RATING_MIN, le=RATING_MAX)]


class SupportRatings(RequestModel):
    """The district's rating of the support on each of the six qualities of support, from 1
    (not yet) to 4 (fully)."""

    aligned: Rating = Field(description="Established goals and the expertise to meet them.")
    responsive: Rating = Field(description="Prompt, available, suggestions fit the context.")
    evidence_based: Rating = Field(description="Strategies with moderate to strong evidence.")
    shared_intensity: Rating = Field(description="Intensity fits the district's capacity.")
    stable: Rating = Field(description="Fits the long-term strategy; a stable core of staff.")
    coherent: Rating = Field(description="Reinforces, never contradicts, the other supports.")


class CheckInCreate(RequestModel):
    held_on: Day = Field(description="The day of the meeting: not before the engagement's start.")
    progress: Progress = Field(description="Progress against the engagement's goals.")
    ratings: SupportRatings
    notes: LongText = ""


class CheckInRead(ResponseModel):
    id: uuid.UUID
    engagement_id: uuid.UUID
    held_on: date
    progress: Progress
    ratings: dict[str, int]
    notes: str
    score: float = Field(
        description="What the check-in counts for in the track record, 0 to 1: the mean of its "
        "progress (met 1, on_track 2/3, some_progress 1/3, no_progress 0) and its ratings "
        "((rating - 1) / 3 each, averaged)."
    )
    recorded_by: uuid.UUID | None
    created_at: datetime
