"""Every needs-profile query, scoped to the caller's district."""

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from app.auth.principal import Principal
from app.need_domains.models import NeedDomain
from app.needs.models import NeedsProfile


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.district_id is not None:
        return NeedsProfile.district_id == principal.district_id
    return false()


def list_query(principal: Principal, district_id: uuid.UUID) -> Select[NeedsProfile]:
    return (
        select(NeedsProfile)
        .where(_scope(principal), NeedsProfile.district_id == district_id)
        .options(selectinload(NeedsProfile.needs))
    )


async def get(
    session: AsyncSession,
    principal: Principal,
    profile_id: uuid.UUID,
    *,
    with_district: bool = False,
) -> NeedsProfile | None:
    """The profile with its needs, and its district if asked: whoever may see a profile may
    see its district, so the district needs no scope of its own."""
    # Joined, not selectin: for one profile and its few needs, one round trip instead of two.
    loads = [joinedload(NeedsProfile.needs)]
    if with_district:
        loads.append(joinedload(NeedsProfile.district))
    query = select(NeedsProfile).where(_scope(principal), NeedsProfile.id == profile_id)
    return (await session.scalars(query.options(*loads))).unique().one_or_none()


async def unknown_need_domains(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    """The codes that are not in the taxonomy, in the order given."""
    wanted = list(codes)
    known = set(await session.scalars(select(NeedDomain.code).where(NeedDomain.code.in_(wanted))))
    return [code for code in wanted if code not in known]
