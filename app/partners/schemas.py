import uuid
from datetime import datetime
from typing import Annotated, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)

from app.auth.principal import Principal
from app.core.schemas import (
    NO_CONTROL_CHARACTERS,
    Code,
    LongText,
    Omittable,
    RequestModel,
    ShortText,
)
from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet, Partner

MAX_COST = 100_000_000
MAX_CAPACITY = 100_000

Region = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"),
]
Website = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s]+$"),
    NO_CONTROL_CHARACTERS,
]


T = TypeVar("T")


def _unique(values: list[T]) -> list[T]:
    return list(dict.fromkeys(values))


NeedDomains = Annotated[list[Code], Field(min_length=1, max_length=20), AfterValidator(_unique)]
GradeBands = Annotated[list[GradeBand], Field(max_length=4), AfterValidator(_unique)]
Locales = Annotated[list[Locale], Field(max_length=4), AfterValidator(_unique)]
Regions = Annotated[list[Region], Field(max_length=60), AfterValidator(_unique)]
DeliveryModes = Annotated[list[DeliveryMode], Field(max_length=3), AfterValidator(_unique)]


class CostRange(RequestModel):
    min: StrictInt = Field(ge=0, le=MAX_COST)
    max: StrictInt = Field(ge=0, le=MAX_COST)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class PartnerFields(RequestModel):
    name: ShortText
    description: LongText = ""
    website: Website | None = None
    need_domains: NeedDomains
    grade_bands: GradeBands = []
    locales: Locales = []
    regions: Regions = []
    delivery_modes: DeliveryModes = []
    capacity: StrictInt = Field(ge=0, le=MAX_CAPACITY, description="Most concurrent engagements.")
    cost_per_school_year: CostRange = Field(description="USD per school per year.")


class PartnerCreate(PartnerFields):
    notes: LongText = Field(default="", description="State staff only; never shown to others.")


class PartnerUpdate(Omittable):
    """Only the fields sent change; ``notes`` is for state staff only."""

    clearable = frozenset({"website"})

    name: ShortText | None = None
    description: LongText | None = None
    website: Website | None = None
    need_domains: NeedDomains | None = None
    grade_bands: GradeBands | None = None
    locales: Locales | None = None
    regions: Regions | None = None
    delivery_modes: DeliveryModes | None = None
    capacity: StrictInt | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    cost_per_school_year: CostRange | None = None
    notes: LongText | None = None


class StatusChange(RequestModel):
    status: PartnerStatus
    reason: LongText = Field(default="", description="Required for suspended and withdrawn.")


class Designation(BaseModel):
    approved_at: datetime
    expires_at: datetime


class PartnerRead(BaseModel):
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
    status: PartnerStatus
    status_reason: str | None
    designation: Designation | None
    evidence_tiers: dict[str, int] = Field(
        description="Strongest accepted ESSA tier per need domain (context-free)."
    )
    notes: str | None = Field(default=None, description="State staff only.")
    version: int
    created_at: datetime
    updated_at: datetime


class PartnerFilters(BaseModel):
    need_domain: str | None = None
    min_evidence_tier: int | None = None
    region: str | None = None
    grade_band: GradeBand | None = None
    locale: Locale | None = None
    status: PartnerStatus | None = None
    q: str | None = None


def _own_or_staff(partner: Partner, principal: Principal) -> bool:
    return principal.is_state_staff or principal.partner_id == partner.id


def partner_read(partner: Partner, principal: Principal, moment: datetime) -> PartnerRead:
    """The partner as this caller may see it on ``moment``."""
    designation = (
        Designation(approved_at=partner.approved_at, expires_at=partner.expires_at)
        if partner.approved_at is not None and partner.expires_at is not None
        else None
    )
    return PartnerRead(
        id=partner.id,
        name=partner.name,
        description=partner.description,
        website=partner.website,
        need_domains=partner.values(Facet.NEED_DOMAIN),
        grade_bands=[GradeBand(value) for value in partner.values(Facet.GRADE_BAND)],
        locales=[Locale(value) for value in partner.values(Facet.LOCALE)],
        regions=partner.values(Facet.REGION),
        delivery_modes=[DeliveryMode(value) for value in partner.values(Facet.DELIVERY_MODE)],
        capacity=partner.capacity,
        cost_per_school_year=CostRange(min=partner.cost_min, max=partner.cost_max),
        status=partner.status_on(moment),
        # Why a partner was suspended or withdrawn is between the state and the partner.
        status_reason=partner.status_reason if _own_or_staff(partner, principal) else None,
        designation=designation,
        evidence_tiers={row.need_domain: row.tier for row in partner.evidence_tiers},
        notes=partner.notes if principal.is_state_staff else None,
        version=partner.version,
        created_at=partner.created_at,
        updated_at=partner.updated_at,
    )
