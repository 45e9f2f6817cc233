import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from app.auth.principal import Principal
from app.core.schemas import (
    NO_CONTROL_CHARACTERS,
    Code,
    Email,
    LongText,
    Omittable,
    RequestModel,
    ShortText,
    unique,
)
from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet, Partner, status_on

MAX_COST = 100_000_000
MAX_CAPACITY = 100_000
MAX_CONTACTS = 20

Region = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$"),
]
# `\s` differs between the engines: U+0085 is whitespace to pydantic's (Rust) and not to a
# client's ECMAScript one, U+FEFF the other way round. Naming both keeps the published pattern
# the rule the server applies.
Website = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s\x85\ufeff]+$"
    ),
    NO_CONTROL_CHARACTERS,
]


NeedDomains = Annotated[list[Code], Field(min_length=1, max_length=20), AfterValidator(unique)]
GradeBands = Annotated[list[GradeBand], Field(max_length=4), AfterValidator(unique)]
Locales = Annotated[list[Locale], Field(max_length=4), AfterValidator(unique)]
Regions = Annotated[list[Region], Field(max_length=60), AfterValidator(unique)]
DeliveryModes = Annotated[list[DeliveryMode], Field(max_length=3), AfterValidator(unique)]


Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9(][0-9 ().-]{3,28}[0-9]$"),
]


class Contact(RequestModel):
    """A person at the partner. Private unless marked otherwise: only state staff and the
    partner's own users see a private contact, never districts or the public directory."""

    # The rule of `_reachable` as JSON Schema states it, so that clients can see it.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [field], "properties": {field: {"type": "string"}}}
                for field in ("email", "phone")
            ]
        }
    )

    name: ShortText
    title: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = Field(default=None, description="Digits, spaces, ( ) . - and a +.")
    private: StrictBool = True

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.email is None and self.phone is None:
            raise ValueError("a contact needs an email or a phone number")
        return self


Contacts = Annotated[list[Contact], Field(max_length=MAX_CONTACTS)]


class ContactRead(BaseModel):
    """A stored contact, read without validating its address again on every read."""

    name: str
    title: str | None
    email: str | None
    phone: str | None
    private: bool


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
    contacts: Contacts = []


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
    contacts: Contacts | None = None
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
    contacts: list[ContactRead] = Field(
        description="Every contact for state staff and the partner itself; others see the public."
    )
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


class PartnerRecord(NamedTuple):
    """A partner's columns with its facet values and tiers: what ``partner_view`` shows, read
    without an ORM object per facet or tier (about a dozen per partner).

    A named tuple, immutable as a frozen dataclass but built in a fifth of the time: a list
    page builds fifty.
    """

    id: uuid.UUID
    name: str
    description: str
    website: str | None
    capacity: int
    cost_min: int
    cost_max: int
    status: PartnerStatus
    status_reason: str | None
    approved_at: datetime | None
    expires_at: datetime | None
    notes: str
    contacts: list[dict[str, Any]]
    """`Contact` fields, as stored."""
    version: int
    created_at: datetime
    updated_at: datetime
    facets: Mapping[str, list[str]]
    """The values of each facet, sorted."""
    evidence_tiers: dict[str, int]

    @classmethod
    def of(cls, partner: Partner) -> "PartnerRecord":
        """The record of a partner loaded with its facets and tiers."""
        return cls(
            id=partner.id,
            name=partner.name,
            description=partner.description,
            website=partner.website,
            capacity=partner.capacity,
            cost_min=partner.cost_min,
            cost_max=partner.cost_max,
            status=partner.status,
            status_reason=partner.status_reason,
            approved_at=partner.approved_at,
            expires_at=partner.expires_at,
            notes=partner.notes,
            contacts=partner.contacts,
            version=partner.version,
            created_at=partner.created_at,
            updated_at=partner.updated_at,
            facets={facet: partner.values(facet) for facet in Facet},
            evidence_tiers={row.need_domain: row.tier for row in partner.evidence_tiers},
        )


CONTACT_FIELDS = tuple(ContactRead.model_fields)


def partner_view(
    partner: Partner | PartnerRecord, principal: Principal, moment: datetime
) -> dict[str, Any]:
    """The partner as this caller may see it on ``moment``: a `PartnerRead`'s fields, in its
    order and of its types, so that pydantic-core writes them as the model would.

    Reads answer with these values as they are (`core.responses.json_response`): validating a
    page of fifty into models only to write them out again cost about a third of a list
    request. `tests/partners/test_partner_view.py` pins that they validate and write alike.
    """
    record = partner if isinstance(partner, PartnerRecord) else PartnerRecord.of(partner)
    own_or_staff = principal.is_staff_or_partner(record.id)
    facets = record.facets
    designation = (
        {"approved_at": record.approved_at, "expires_at": record.expires_at}
        if record.approved_at is not None and record.expires_at is not None
        else None
    )
    return {
        "id": record.id,
        "name": record.name,
        "description": record.description,
        "website": record.website,
        "need_domains": facets.get(Facet.NEED_DOMAIN, []),
        "grade_bands": facets.get(Facet.GRADE_BAND, []),
        "locales": facets.get(Facet.LOCALE, []),
        "regions": facets.get(Facet.REGION, []),
        "delivery_modes": facets.get(Facet.DELIVERY_MODE, []),
        "capacity": record.capacity,
        "cost_per_school_year": {"min": record.cost_min, "max": record.cost_max},
        "contacts": [
            {field: contact.get(field) for field in CONTACT_FIELDS}
            for contact in record.contacts
            if own_or_staff or not contact["private"]
        ],
        "status": status_on(record.status, record.expires_at, moment),
        # Why a partner was suspended or withdrawn is between the state and the partner.
        "status_reason": record.status_reason if own_or_staff else None,
        "designation": designation,
        "evidence_tiers": record.evidence_tiers,
        "notes": record.notes if principal.is_state_staff else None,
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def partner_read(
    partner: Partner | PartnerRecord, principal: Principal, moment: datetime
) -> PartnerRead:
    """The partner as this caller may see it on ``moment``, as a model."""
    return PartnerRead.model_validate(partner_view(partner, principal, moment))
