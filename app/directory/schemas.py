import uuid

from pydantic import BaseModel, ConfigDict, Field

from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.partners.schemas import ContactRead, CostRange, Designation


class DirectoryEntry(BaseModel):
    """A designated partner as the public sees it: a whitelist, so new fields stay private."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str
    website: str | None
    need_domains: list[str]
    grade_bands: list[GradeBand]
    locales: list[Locale]
    regions: list[str]
    delivery_modes: list[DeliveryMode]
    capacity: int
    cost_per_school_year: CostRange
    contacts: list[ContactRead] = Field(description="The partner's public contacts only.")
    designation: Designation
    evidence_tiers: dict[str, int]
