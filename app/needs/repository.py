"""Every needs-profile query, scoped to the caller's district."""

import functools
import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Select, bindparam, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.elements import BindParameter

from app.auth.principal import Principal
from app.need_domains.models import NeedDomain
from app.needs.models import NeedsProfile


def _within(
    sees_all: bool, district: uuid.UUID | BindParameter[uuid.UUID] | None
) -> ColumnElement[bool]:
    """The profiles a caller may see: every one, its own district's, or none."""
    if sees_all:
        return true()
    if district is not None:
        return NeedsProfile.district_id == district
    return false()


def _scope(principal: Principal) -> ColumnElement[bool]:
    return _within(principal.is_state_staff, principal.district_id)


def list_query(principal: Principal, district_id: uuid.UUID) -> Select[NeedsProfile]:
    return (
        select(NeedsProfile)
        .where(_scope(principal), NeedsProfile.district_id == district_id)
        .options(selectinload(NeedsProfile.needs))
    )


_CALLER_DISTRICT: BindParameter[uuid.UUID] = bindparam("caller_district_id")


@functools.cache
def _by_id(sees_all: bool, has_district: bool, with_district: bool) -> Select[NeedsProfile]:
    # Joined, not selectin: for one profile and its few needs, one round trip instead of two.
    loads = [joinedload(NeedsProfile.needs)]
    if with_district:
        loads.append(joinedload(NeedsProfile.district))
    scope = _within(sees_all, _CALLER_DISTRICT if has_district else None)
    query = select(NeedsProfile).where(NeedsProfile.id == bindparam("profile_id"), scope)
    return query.options(*loads)


async def get(
    session: AsyncSession,
    principal: Principal,
    profile_id: uuid.UUID,
    *,
    with_district: bool = False,
) -> NeedsProfile | None:
    """The profile with its needs, and its district if asked: whoever may see a profile may
    see its district, so the district needs no scope of its own."""
    # One statement per kind of caller, with the ids as parameters: building it and its cache
    # key anew cost as much CPU as running it (about 0.3 ms of every match).
    query = _by_id(principal.is_state_staff, principal.district_id is not None, with_district)
    params = {"profile_id": profile_id, "caller_district_id": principal.district_id}
    return (await session.scalars(query, params)).unique().one_or_none()


async def unknown_need_domains(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    """The codes that are not in the taxonomy, in the order given."""
    wanted = list(codes)
    known = set(await session.scalars(select(NeedDomain.code).where(NeedDomain.code.in_(wanted))))
    return [code for code in wanted if code not in known]
