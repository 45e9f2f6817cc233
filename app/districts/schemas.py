import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints

from app.core.schemas import Omittable, RequestModel, ResponseModel, ShortText
from app.core.vocabulary import Locale
from app.districts.models import AccountabilityStatus
from app.partners.schemas import Region

NcesId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{7}$"),
    Field(description="The 7-digit NCES local education agency id."),
]
Enrollment = Annotated[StrictInt, Field(ge=0, le=2_000_000)]


class DistrictCreate(RequestModel):
    name: ShortText
    nces_id: NcesId
    region: Region
    locale: Locale
    enrollment: Enrollment
    accountability_status: AccountabilityStatus = AccountabilityStatus.NONE


class DistrictUpdate(Omittable):
    """Only the fields sent change: a new school year's enrollment or ESSA designation."""

    name: ShortText | None = None
    nces_id: NcesId | None = None
    region: Region | None = None
    locale: Locale | None = None
    enrollment: Enrollment | None = None
    accountability_status: AccountabilityStatus | None = None


class DistrictRead(ResponseModel):
    id: uuid.UUID
    name: str
    nces_id: str
    region: str
    locale: Locale
    enrollment: int
    accountability_status: AccountabilityStatus
    version: int
    created_at: datetime
    updated_at: datetime
