import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import BeforeValidator, Field, model_validator

from app.core.schemas import RequestModel, ResponseModel
from app.engagements.lifecycle import INITIAL, EngagementStatus
from app.partners.schemas import NeedDomains


def _not_a_number(value: object) -> object:
    # Pydantic would read a number as a Unix timestamp; a client sending one made a mistake.
    if isinstance(value, int | float):
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_not_a_number)]


class EngagementCreate(RequestModel):
    partner_id: uuid.UUID
    district_id: uuid.UUID
    needs_id: uuid.UUID | None = Field(default=None, description="The profile it answers.")
    need_domains: NeedDomains
    start_date: Day
    end_date: Day | None = None
    status: EngagementStatus = Field(
        default=EngagementStatus.PLANNED, description="planned or active; active uses capacity."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.status not in INITIAL:
            raise ValueError("a new engagement is planned or active")
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class EngagementUpdate(RequestModel):
    """Only the fields sent change; ``end_date`` may be cleared."""

    need_domains: NeedDomains | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    status: EngagementStatus | None = None

    @model_validator(mode="after")
    def _no_nulls_except_end_date(self) -> Self:
        for name in self.model_fields_set - {"end_date"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


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
