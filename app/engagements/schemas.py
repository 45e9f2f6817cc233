import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import Field, WithJsonSchema, model_validator

from app.core.schemas import Day, Omittable, RequestModel, ResponseModel
from app.engagements.lifecycle import INITIAL, EngagementStatus
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
