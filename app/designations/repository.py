import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.designations.models import Designation


def for_partner(partner_id: uuid.UUID) -> Select[Designation]:
    return select(Designation).where(Designation.partner_id == partner_id)


async def current(session: AsyncSession, partner_id: uuid.UUID) -> Designation | None:
    """The latest term that nothing has ended yet (it may have lapsed by the calendar)."""
    query = (
        for_partner(partner_id)
        .where(Designation.ended_at.is_(None))
        .order_by(Designation.approved_at.desc())
        .limit(1)
    )
    return await session.scalar(query)
