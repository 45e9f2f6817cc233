import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictInt, StringConstraints

from app.core.schemas import RequestModel, ResponseModel, ShortText
from app.core.vocabulary import Locale
from app.districts.models import AccountabilityStatus
from app.partners.schemas import Region

NcesId = Annotated[str, StringConstraints(pattern=r"^[0-9]{7}$")]


class DistrictCreate(RequestModel):
    name: ShortText
    nces_id: NcesId = Field(description="The 7-digit NCES local education agency id.")
    region: Region
    locale: Locale
    enrollment: StrictInt = Field(ge=0, le=2_000_000)
    accountability_status: AccountabilityStatus = AccountabilityStatus.NONE


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
