import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import Field, StrictInt, WithJsonSchema, model_validator

from app.core.schemas import Day, LongText, Omittable, RequestModel, ResponseModel
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


class EngagementCreate(RequestModel):
    partner_id: uuid.UUID
    district_id: uuid.UUID
    needs_id: uuid.UUID | None = Field(default=None, description="The profile it answers.")
    need_domains: NeedDomains
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
    """Only the fields sent change; ``end_date`` may be cleared."""

    clearable = frozenset({"end_date"})

    need_domains: NeedDomains | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    status: EngagementStatus | None = None


class EngagementRead(ResponseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    district_id: uuid.UUID
    needs_id: uuid.UUID | None
    need_domains: list[str]
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
