import uuid

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.districts.models import AccountabilityStatus, District


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.district_id is not None:
        return District.id == principal.district_id
    return false()


def list_query(
    principal: Principal,
    nces_id: str | None = None,
    region: str | None = None,
    accountability_status: AccountabilityStatus | None = None,
) -> Select[District]:
    conditions = [_scope(principal)]
    if nces_id is not None:
        conditions.append(District.nces_id == nces_id)
    if region is not None:
        conditions.append(District.region == region)
    if accountability_status is not None:
        conditions.append(District.accountability_status == accountability_status)
    return select(District).where(*conditions)


async def get(
    session: AsyncSession, principal: Principal, district_id: uuid.UUID
) -> District | None:
    return await session.scalar(list_query(principal).where(District.id == district_id))


async def by_nces_id(session: AsyncSession, nces_id: str) -> District | None:
    return await session.scalar(select(District).where(District.nces_id == nces_id))
