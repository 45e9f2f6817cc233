import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt

from app.core.schemas import Code, Omittable, RequestModel, ResponseModel, ShortText, unique
from app.core.vocabulary import DeliveryMode, GradeBand
from app.needs.vocabulary import FundingSource
from app.partners.schemas import MAX_COST, DeliveryModes, GradeBands

MAX_NEEDS = 20
MAX_STUDENT_GROUPS = 20

Priority = Annotated[StrictInt, Field(ge=1, le=5, description="5 is the most pressing.")]
Rating = Annotated[StrictInt | None, Field(default=None, ge=1, le=5)]
EvidenceTier = Annotated[
    StrictInt, Field(ge=1, le=4, description="The weakest ESSA tier accepted (3 admits 1-3).")
]
Budget = Annotated[StrictInt, Field(ge=0, le=MAX_COST, description="USD per school year.")]


class NeedIn(RequestModel):
    need_domain: Code
    priority: Priority


def _distinct_domains(needs: list[NeedIn]) -> list[NeedIn]:
    domains = [need.need_domain for need in needs]
    if len(set(domains)) != len(domains):
        raise ValueError("each need domain may appear once")
    return needs


Needs = Annotated[
    list[NeedIn],
    Field(min_length=1, max_length=MAX_NEEDS),
    AfterValidator(_distinct_domains),
]
StudentGroups = Annotated[
    list[Code],
    Field(max_length=MAX_STUDENT_GROUPS, description="Short codes, e.g. english_learners."),
    AfterValidator(unique),
]


class Readiness(RequestModel):
    """The district's own view of its conditions for change, each 1 (weak) to 5 (strong)."""

    beliefs: Rating = Field(default=None, description="Belief that change is needed.")
    collective_efficacy: Rating = None
    adequate_resources: Rating = None
    policy_environment: Rating = Field(default=None, description="A stable policy environment.")


class NeedsProfileCreate(RequestModel):
    title: ShortText
    school_name: ShortText | None = Field(default=None, description="Absent: the whole district.")
    needs: Needs
    grade_bands: GradeBands = []
    student_groups: StudentGroups = []
    funding_source: FundingSource
    min_evidence_tier: EvidenceTier
    budget_per_school_year: Budget
    delivery_modes: DeliveryModes = []
    readiness: Readiness | None = None


class NeedsProfileUpdate(Omittable):
    """Only the fields sent change; ``school_name`` and ``readiness`` may be cleared."""

    clearable = frozenset({"school_name", "readiness"})

    title: ShortText | None = None
    school_name: ShortText | None = None
    needs: Needs | None = None
    grade_bands: GradeBands | None = None
    student_groups: StudentGroups | None = None
    funding_source: FundingSource | None = None
    min_evidence_tier: EvidenceTier | None = None
    budget_per_school_year: Budget | None = None
    delivery_modes: DeliveryModes | None = None
    readiness: Readiness | None = None


class NeedRead(ResponseModel):
    need_domain: str
    priority: int


class NeedsProfileRead(ResponseModel):
    id: uuid.UUID
    district_id: uuid.UUID
    title: str
    school_name: str | None
    needs: list[NeedRead]
    grade_bands: list[GradeBand]
    student_groups: list[str]
    funding_source: FundingSource
    min_evidence_tier: int
    budget_per_school_year: int
    delivery_modes: list[DeliveryMode]
    readiness: Readiness | None
    version: int
    created_at: datetime
    updated_at: datetime
