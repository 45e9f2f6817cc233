"""Every engagement query, scoped to the caller: its district's or its partner's."""

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from app.auth.models import Role
from app.auth.principal import Principal
from app.engagements.lifecycle import EngagementStatus
from app.engagements.models import CheckIn, Engagement
from app.engagements.track_record import track_record
from app.partners.models import Partner


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.role is Role.DISTRICT and principal.district_id is not None:
        return Engagement.district_id == principal.district_id
    if principal.role is Role.PARTNER and principal.partner_id is not None:
        return Engagement.partner_id == principal.partner_id
    return false()


def list_query(
    principal: Principal,
    partner_id: uuid.UUID | None,
    district_id: uuid.UUID | None,
    status: EngagementStatus | None,
) -> Select[Engagement]:
    conditions = [_scope(principal)]
    if partner_id is not None:
        conditions.append(Engagement.partner_id == partner_id)
    if district_id is not None:
        conditions.append(Engagement.district_id == district_id)
    if status is not None:
        conditions.append(Engagement.status == status)
    return select(Engagement).where(*conditions)


async def get(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID
) -> Engagement | None:
    return await session.scalar(
        select(Engagement).where(_scope(principal), Engagement.id == engagement_id)
    )


async def lock_capacity(session: AsyncSession, partner_id: uuid.UUID) -> int:
    """The partner's capacity, read fresh under a row lock held until the transaction ends.

    FOR NO KEY UPDATE (``key_share=True``): the caller has already inserted an engagement,
    whose foreign key holds a KEY SHARE lock on the same row, and a plain FOR UPDATE would
    deadlock two such writers. SQLite ignores the clause; its writers queue on the file lock.
    """
    capacity = await session.scalar(
        select(Partner.capacity).where(Partner.id == partner_id).with_for_update(key_share=True)
    )
    assert capacity is not None, "the engagement's foreign key guarantees the partner"
    return capacity


async def count_active(session: AsyncSession, partner_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Engagement)
        .where(Engagement.partner_id == partner_id, Engagement.status == EngagementStatus.ACTIVE)
    )
    return count or 0


def check_ins_query(engagement_id: uuid.UUID) -> Select[CheckIn]:
    """The engagement's check-ins; the caller has already been shown the engagement."""
    return select(CheckIn).where(CheckIn.engagement_id == engagement_id)


async def get_check_in(
    session: AsyncSession, engagement_id: uuid.UUID, check_in_id: uuid.UUID
) -> CheckIn | None:
    return await session.scalar(
        select(CheckIn).where(CheckIn.engagement_id == engagement_id, CheckIn.id == check_in_id)
    )


def latest_check_in_totals(
    partner_ids: Select[uuid.UUID] | BindParameter[Any] | list[uuid.UUID],
) -> Select[uuid.UUID, float, int]:
    """Per partner of ``partner_ids``, the sum of its engagements' latest check-in scores and
    how many there are: the latest is where an engagement stands now, or where it ended."""
    latest_first = (CheckIn.held_on.desc(), CheckIn.created_at.desc(), CheckIn.id.desc())
    ranked = (
        select(
            CheckIn.partner_id,
            CheckIn.score,
            func.row_number()
            # By partner too, so that ix_engagement_check_ins_latest gives the rows in order.
            .over(partition_by=(CheckIn.partner_id, CheckIn.engagement_id), order_by=latest_first)
            .label("position"),
        )
        .where(CheckIn.partner_id.in_(partner_ids))
        .subquery()
    )
    return (
        select(ranked.c.partner_id, func.sum(ranked.c.score), func.count())
        .where(ranked.c.position == 1)
        .group_by(ranked.c.partner_id)
    )


async def track_record_of(session: AsyncSession, partner_id: uuid.UUID) -> tuple[float | None, int]:
    """The partner's track record as matching counts it, and how many engagements it rests on."""
    row = (await session.execute(latest_check_in_totals([partner_id]))).first()
    if row is None:
        return None, 0
    _partner_id, total, engagements = row
    return track_record(total, engagements), engagements
