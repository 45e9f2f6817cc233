import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.auth.principal import Principal
from app.designations.models import Designation
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Partner


class DesignationState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    ENDED = "ended"


class DesignationEvent(BaseModel):
    at: datetime
    event: str = Field(description="`suspended` or `reinstated`.")
    reason: str | None = Field(description="State staff and the partner only.")


class DesignationRead(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    review_id: uuid.UUID
    approved_at: datetime
    expires_at: datetime
    conditions: list[str]
    state: DesignationState
    ended_at: datetime | None = Field(description="Set when the term stopped before expires_at.")
    ended_reason: str | None = Field(
        description="`withdrawn: <reason>`, `renewed` or `renewal denied`; others than state "
        "staff and the partner see `withdrawn` without the reason."
    )
    events: list[DesignationEvent]


def _state(designation: Designation, partner: Partner, moment: datetime) -> DesignationState:
    if designation.ended_at is not None:
        return DesignationState.ENDED
    if designation.expires_at <= moment:
        return DesignationState.EXPIRED
    if partner.status is PartnerStatus.SUSPENDED:
        return DesignationState.SUSPENDED
    return DesignationState.ACTIVE


def designation_read(
    designation: Designation, partner: Partner, principal: Principal, moment: datetime
) -> DesignationRead:
    # As on the partner itself (`partner_view`): why a term was suspended or withdrawn is
    # between the state and the partner; districts see what happened, not why.
    own_or_staff = principal.is_staff_or_partner(partner.id)
    ended_reason = designation.ended_reason
    if ended_reason is not None and not own_or_staff:
        ended_reason = ended_reason.partition(":")[0]
    return DesignationRead(
        id=designation.id,
        partner_id=designation.partner_id,
        review_id=designation.review_id,
        approved_at=designation.approved_at,
        expires_at=designation.expires_at,
        conditions=designation.conditions,
        state=_state(designation, partner, moment),
        ended_at=designation.ended_at,
        ended_reason=ended_reason,
        events=[
            DesignationEvent.model_validate(event if own_or_staff else event | {"reason": None})
            for event in designation.events
        ],
    )
