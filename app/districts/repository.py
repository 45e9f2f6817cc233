import uuid

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.districts.models import District


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.district_id is not None:
        return District.id == principal.district_id
    return false()


def list_query(principal: Principal) -> Select[District]:
    return select(District).where(_scope(principal))


async def get(
    session: AsyncSession, principal: Principal, district_id: uuid.UUID
) -> District | None:
    return await session.scalar(list_query(principal).where(District.id == district_id))


async def by_nces_id(session: AsyncSession, nces_id: str) -> District | None:
    return await session.scalar(select(District).where(District.nces_id == nces_id))
