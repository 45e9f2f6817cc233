"""Designation terms: started by approvals, ended by withdrawal or renewal. Flushes only."""

import calendar
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.designations import repository
from app.designations.models import Designation
from app.partners.lifecycle import PartnerStatus


def term_end(start: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later, or that month's last day if shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


async def end_current(
    session: AsyncSession, partner_id: uuid.UUID, moment: datetime, reason: str
) -> Designation | None:
    designation = await repository.current(session, partner_id)
    if designation is not None and designation.expires_at > moment:
        designation.ended_at = moment
        designation.ended_reason = reason
    return designation


async def start(
    session: AsyncSession,
    partner_id: uuid.UUID,
    review_id: uuid.UUID,
    term: tuple[datetime, datetime],
    conditions: list[str],
) -> Designation:
    """A new term; a term still running (a renewal) ends as the new one begins."""
    await end_current(session, partner_id, term[0], "renewed")
    designation = Designation(
        partner_id=partner_id,
        review_id=review_id,
        approved_at=term[0],
        expires_at=term[1],
        conditions=conditions,
        events=[],
    )
    session.add(designation)
    await session.flush()
    return designation


async def follow_status(
    session: AsyncSession,
    partner_id: uuid.UUID,
    moves: tuple[PartnerStatus, PartnerStatus],
    reason: str,
    moment: datetime,
) -> None:
    """Keep suspensions, reinstatements and withdrawals, with their reasons, on the term."""
    current, target = moves
    if target is PartnerStatus.WITHDRAWN:
        await end_current(session, partner_id, moment, f"withdrawn: {reason}")
        return
    if target is PartnerStatus.SUSPENDED:
        event = "suspended"
    elif current is PartnerStatus.SUSPENDED and target is PartnerStatus.APPROVED:
        event = "reinstated"
    else:
        return
    designation = await repository.current(session, partner_id)
    if designation is not None:
        # A new list, so that the JSON column is seen as changed.
        designation.events = [
            *designation.events,
            {"at": moment.isoformat(), "event": event, "reason": reason},
        ]
