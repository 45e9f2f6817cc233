"""The rules for recording engagements and the capacity they use. Flushes; never commits."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.districts import repository as districts
from app.engagements import repository
from app.engagements.lifecycle import TRANSITIONS, EngagementStatus, allowed_targets
from app.engagements.models import CheckIn, Engagement
from app.engagements.schemas import (
    CheckInCreate,
    CheckInRead,
    EngagementCreate,
    EngagementRead,
    EngagementUpdate,
)
from app.engagements.track_record import check_in_score
from app.needs import repository as needs
from app.needs.dependencies import DistrictNotFound, NeedsProfileNotFound
from app.needs.service import check_need_domains
from app.partners import repository as partners
from app.partners.dependencies import PartnerNotFound
from app.partners.models import Partner

# What a check-in's audit event records; the event names the engagement, the action says what.
CHECK_IN_AUDITED = {"id", "held_on", "progress", "ratings", "notes", "score"}


class EngagementNotFound(NotFound):
    title = "Engagement not found"


class CheckInNotFound(NotFound):
    title = "Check-in not found"


async def _visible_partner(
    session: AsyncSession, actor: Principal, partner_id: uuid.UUID
) -> Partner:
    partner = await partners.get(session, actor, partner_id)
    if partner is None:
        raise PartnerNotFound(f"No partner {partner_id}.")
    return partner


def _require_designated(partner: Partner) -> None:
    now = utcnow()
    if not partner.designated_on(now):
        raise Conflict(
            f"The partner is {partner.status_on(now)}; only a designated partner can be engaged."
        )


async def _check_capacity(session: AsyncSession, partner_id: uuid.UUID) -> None:
    """Refuse a write that leaves the partner with more active engagements than capacity.

    Runs after the write has been flushed: on SQLite the flush is what takes the database's
    write lock, so concurrent writers count one after the other; on PostgreSQL the partner
    row lock does the same. Counting first would let two writers both see room for one.
    """
    capacity = await repository.lock_capacity(session, partner_id)
    active = await repository.count_active(session, partner_id)
    if active > capacity:
        raise Conflict(
            f"The partner has capacity for {capacity} active engagement(s) and "
            f"{active - 1} already; complete or terminate one first."
        )


def _snapshot(engagement: Engagement) -> dict[str, Any]:
    return EngagementRead.model_validate(engagement).model_dump(
        mode="json", exclude={"version", "created_at", "updated_at"}
    )


async def create(session: AsyncSession, actor: Principal, data: EngagementCreate) -> Engagement:
    district = await districts.get(session, actor, data.district_id)
    if district is None:
        raise DistrictNotFound(f"No district {data.district_id}.")
    partner = await _visible_partner(session, actor, data.partner_id)
    if data.needs_id is not None:
        profile = await needs.get(session, actor, data.needs_id)
        if profile is None:
            raise NeedsProfileNotFound(f"No needs profile {data.needs_id}.")
        if profile.district_id != district.id:
            raise InvalidInput(
                ["body", "needs_id"], "The needs profile belongs to another district."
            )
    await check_need_domains(session, data.need_domains, ["body", "need_domains"])
    _require_designated(partner)
    engagement = Engagement(**data.model_dump())
    session.add(engagement)
    await session.flush()
    if engagement.status is EngagementStatus.ACTIVE:
        await _check_capacity(session, engagement.partner_id)
    await record(
        session, actor, "engagement.created", "engagement", engagement.id, _snapshot(engagement)
    )
    return engagement


async def update(
    session: AsyncSession, actor: Principal, engagement: Engagement, data: EngagementUpdate
) -> Engagement:
    changes = data.sent()
    current = engagement.status
    target = changes.get("status", current)
    if target != current and target not in TRANSITIONS[current]:
        allowed = [status.value for status in allowed_targets(current)]
        raise Conflict(
            f"An engagement cannot move from {current} to {target}. "
            f"Allowed now: {', '.join(allowed) or 'none'}.",
            allowed=allowed,
        )
    starts = changes.get("start_date", engagement.start_date)
    ends = changes.get("end_date", engagement.end_date)
    if ends is not None and ends < starts:
        raise InvalidInput(["body", "end_date"], "end_date must not be before start_date.")
    if "need_domains" in changes:
        await check_need_domains(session, changes["need_domains"], ["body", "need_domains"])
    activating = target is EngagementStatus.ACTIVE and current is not EngagementStatus.ACTIVE
    if activating:
        _require_designated(await _visible_partner(session, actor, engagement.partner_id))
    before = _snapshot(engagement)
    for field, value in changes.items():
        setattr(engagement, field, value)
    changed = diff(before, _snapshot(engagement))
    if not changed:
        return engagement  # nothing to write: the version stays
    engagement.updated_at = utcnow()
    await session.flush()
    if activating:
        await _check_capacity(session, engagement.partner_id)
    await record(session, actor, "engagement.updated", "engagement", engagement.id, changed)
    return engagement


async def check_in(
    session: AsyncSession, actor: Principal, engagement: Engagement, data: CheckInCreate
) -> CheckIn:
    """Record a check-in; the partner's track record in matches follows from the next match."""
    if engagement.status is EngagementStatus.PLANNED:
        raise Conflict(
            "A planned engagement has not started: make it active before its first check-in."
        )
    if data.held_on < engagement.start_date:
        raise InvalidInput(
            ["body", "held_on"],
            f"A check-in is held on or after the engagement's start, {engagement.start_date}.",
        )
    if data.held_on > utcnow().date():
        raise InvalidInput(
            ["body", "held_on"], "A check-in records a meeting that was held, not one to come."
        )
    ratings = data.ratings.model_dump()
    row = CheckIn(
        engagement_id=engagement.id,
        partner_id=engagement.partner_id,
        held_on=data.held_on,
        progress=data.progress,
        ratings=ratings,
        score=check_in_score(data.progress, ratings),
        notes=data.notes,
        recorded_by=actor.user_id,
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        actor,
        "engagement.checked_in",
        "engagement",
        engagement.id,
        CheckInRead.model_validate(row).model_dump(mode="json", include=CHECK_IN_AUDITED),
    )
    return row
