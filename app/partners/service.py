"""The rules for creating and changing partner profiles. Flushes; never commits."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.designations import service as designations
from app.need_domains.models import NeedDomain
from app.partners.lifecycle import REASON_REQUIRED, PartnerStatus, Trigger, judge
from app.partners.models import Facet, Partner, PartnerFacet
from app.partners.schemas import PartnerCreate, PartnerUpdate, partner_read

FACET_FIELDS = {
    "need_domains": Facet.NEED_DOMAIN,
    "grade_bands": Facet.GRADE_BAND,
    "locales": Facet.LOCALE,
    "regions": Facet.REGION,
    "delivery_modes": Facet.DELIVERY_MODE,
}
STAFF_ONLY_FIELDS = frozenset({"notes"})


async def _check_need_domains(session: AsyncSession, codes: list[str]) -> None:
    known = set(await session.scalars(select(NeedDomain.code).where(NeedDomain.code.in_(codes))))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise InvalidInput(
            ["body", "need_domains"],
            f"Unknown need domain(s): {', '.join(unknown)}. See GET /v1/need-domains.",
            "need_domain_unknown",
        )


def _set_facets(partner: Partner, values: dict[str, Any]) -> None:
    # Only facets whose values change are rewritten, so that a PATCH repeating them writes nothing.
    wanted = {FACET_FIELDS[field]: sorted(map(str, given)) for field, given in values.items()}
    changed = {facet: new for facet, new in wanted.items() if new != partner.values(facet)}
    if changed:
        kept = [row for row in partner.facets if row.facet not in changed]
        added = [PartnerFacet(facet=f, value=value) for f, new in changed.items() for value in new]
        partner.facets = kept + added


def _snapshot(partner: Partner, principal: Principal) -> dict[str, Any]:
    return partner_read(partner, principal, utcnow()).model_dump(
        mode="json", exclude={"version", "created_at", "updated_at", "evidence_tiers"}
    )


async def create(session: AsyncSession, actor: Principal, data: PartnerCreate) -> Partner:
    await _check_need_domains(session, data.need_domains)
    partner = Partner(
        name=data.name,
        description=data.description,
        website=data.website,
        capacity=data.capacity,
        cost_min=data.cost_per_school_year.min,
        cost_max=data.cost_per_school_year.max,
        notes=data.notes,
        contacts=[contact.model_dump() for contact in data.contacts],
        status=PartnerStatus.DRAFT,
        facets=[],
        evidence_tiers=[],
    )
    _set_facets(partner, data.model_dump(include=set(FACET_FIELDS)))
    session.add(partner)
    await session.flush()
    await record(
        session, actor, "partner.created", "partner", partner.id, _snapshot(partner, actor)
    )
    return partner


def check_not_withdrawn(actor: Principal, partner: Partner) -> None:
    """Withdrawn is final: the partner's own users change nothing more (its profile stays as
    districts last saw it), while state staff may still correct the record."""
    if partner.status is PartnerStatus.WITHDRAWN and not actor.is_state_staff:
        raise Conflict("The partner is withdrawn, which is final; it takes no more changes.")


async def update(
    session: AsyncSession, actor: Principal, partner: Partner, data: PartnerUpdate
) -> Partner:
    check_not_withdrawn(actor, partner)
    changes = data.sent()
    forbidden = STAFF_ONLY_FIELDS & changes.keys()
    if forbidden and not actor.is_state_staff:
        field = sorted(forbidden)[0]
        raise InvalidInput(["body", field], "Extra inputs are not permitted", "extra_forbidden")
    if "need_domains" in changes:
        await _check_need_domains(session, changes["need_domains"])
    before = _snapshot(partner, actor)
    if "cost_per_school_year" in changes:
        cost = changes.pop("cost_per_school_year")
        partner.cost_min, partner.cost_max = cost["min"], cost["max"]
    _set_facets(partner, {key: changes.pop(key) for key in list(changes) if key in FACET_FIELDS})
    for field, value in changes.items():
        setattr(partner, field, value)
    changed = diff(before, _snapshot(partner, actor))
    if not changed:
        return partner  # nothing to write: the version stays, and so do the readers' ETags
    # Touch the row even when only facets changed, so the version moves and stale writers fail.
    partner.updated_at = utcnow()
    await session.flush()
    await record(session, actor, "partner.updated", "partner", partner.id, changed)
    return partner


def _trigger(actor: Principal) -> Trigger:
    return Trigger.STATE_STAFF if actor.is_state_staff else Trigger.PARTNER


async def change_status(
    session: AsyncSession,
    actor: Principal,
    partner: Partner,
    target: PartnerStatus,
    reason: str,
) -> Partner:
    now = utcnow()
    current = partner.status_on(now)
    verdict = judge(current, target, _trigger(actor))
    if not verdict.allowed:
        staff_may = judge(current, target, Trigger.STATE_STAFF).allowed
        if staff_may and not actor.is_state_staff:
            raise Forbidden(f"Only state staff move a partner from {current} to {target}.")
        allowed = [status.value for status in verdict.targets]
        how = (
            " It comes from a due-diligence decision."
            if target in {PartnerStatus.APPROVED, PartnerStatus.DENIED} and verdict.exists
            else ""
        )
        raise Conflict(
            f"A partner cannot move from {current} to {target}.{how} "
            f"Allowed now: {', '.join(allowed) or 'none'}.",
            allowed=allowed,
        )
    if target in REASON_REQUIRED and not reason:
        raise InvalidInput(["body", "reason"], f"A reason is required to move to {target}.")
    partner.status = target
    partner.status_reason = reason or None
    partner.updated_at = now
    # Withdrawal ends the term (the designation's history keeps it whole).
    ended = _end_term(partner, now) if target is PartnerStatus.WITHDRAWN else {}
    await designations.follow_status(session, partner.id, (current, target), reason, now)
    await session.flush()
    await _record_status_change(session, actor, partner, current, reason=reason, **ended)
    return partner


def _end_term(partner: Partner, moment: datetime) -> dict[str, object]:
    """End the partner's term at ``moment`` if it runs on; what changed, for its event."""
    if partner.expires_at is None or partner.expires_at <= moment:
        return {}
    before, partner.expires_at = partner.expires_at, moment
    return {"expires_at": [before, moment]}


async def _record_status_change(
    session: AsyncSession,
    actor: Principal,
    partner: Partner,
    before: PartnerStatus,
    **details: object,
) -> None:
    await record(
        session,
        actor,
        "partner.status_changed",
        "partner",
        partner.id,
        {"status": [before, partner.status], **details},
    )


async def apply_decision(
    session: AsyncSession,
    actor: Principal,
    partner: Partner,
    target: PartnerStatus,
    term: tuple[datetime, datetime] | None,
    reason: str | None,
    review_id: uuid.UUID,
) -> PartnerStatus:
    """Move ``partner`` as a due-diligence decision does, and return where it came from.

    On the partner's own history too, as every other status change is: whoever follows a
    partner (by its id, or by `partner.status_changed`) sees its approvals and denials.
    """
    now = utcnow()
    current = partner.status_on(now)
    verdict = judge(current, target, Trigger.DECISION)
    if not verdict.allowed:
        raise Conflict(
            f"A decision cannot move a partner from {current} to {target}.",
            allowed=[status.value for status in verdict.targets],
        )
    partner.status = target
    partner.status_reason = reason
    ended: dict[str, object] = {}
    if term is not None:
        partner.approved_at, partner.expires_at = term
    else:
        # A term denied at renewal ends now, or a later re-application would revive it.
        ended = _end_term(partner, now)
    partner.updated_at = now
    await session.flush()
    await _record_status_change(
        session, actor, partner, current, reason=reason, review_id=review_id, **ended
    )
    return current
