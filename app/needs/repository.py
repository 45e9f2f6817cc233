"""Every needs-profile query, scoped to the caller's district."""

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, false, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.elements import BindParameter

from app.auth.principal import Principal
from app.districts.models import District
from app.need_domains.models import NeedDomain
from app.needs.models import NeedsProfile, ProfileNeed


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
def _by_id(sees_all: bool, has_district: bool) -> Select[NeedsProfile]:
    # Joined, not selectin: for one profile and its few needs, one round trip instead of two.
    scope = _within(sees_all, _CALLER_DISTRICT if has_district else None)
    query = select(NeedsProfile).where(NeedsProfile.id == bindparam("profile_id"), scope)
    return query.options(joinedload(NeedsProfile.needs))


def _by_id_values(principal: Principal, profile_id: uuid.UUID) -> dict[str, Any]:
    return {"profile_id": profile_id, "caller_district_id": principal.district_id}


async def get(
    session: AsyncSession, principal: Principal, profile_id: uuid.UUID
) -> NeedsProfile | None:
    """The profile with its needs."""
    # One statement per kind of caller, with the ids as parameters: building it and its cache
    # key anew cost as much CPU as running it.
    query = _by_id(principal.is_state_staff, principal.district_id is not None)
    values = _by_id_values(principal, profile_id)
    return (await session.scalars(query, values)).unique().one_or_none()


# The terms of a profile that a match reads and keeps (`app.matching.service`).
MATCH_TERMS = (
    NeedsProfile.title,
    NeedsProfile.school_name,
    NeedsProfile.grade_bands,
    NeedsProfile.student_groups,
    NeedsProfile.funding_source,
    NeedsProfile.min_evidence_tier,
    NeedsProfile.budget_per_school_year,
    NeedsProfile.delivery_modes,
)


@dataclass(frozen=True)
class MatchTerms:
    """A profile as a match reads it: its district's context, and its terms as JSON values."""

    district_id: uuid.UUID
    region: str
    locale: str
    terms: dict[str, Any]


_CONTEXT = (District.id, District.region, District.locale)


@functools.cache
def _terms_by_id(sees_all: bool, has_district: bool) -> Select[*tuple[Any, ...]]:
    scope = _within(sees_all, _CALLER_DISTRICT if has_district else None)
    return (
        select(*_CONTEXT, ProfileNeed.need_domain, ProfileNeed.priority, *MATCH_TERMS)
        .select_from(NeedsProfile)
        .join(District, District.id == NeedsProfile.district_id)
        # Inner: every profile has a need (the schema requires one).
        .join(ProfileNeed, ProfileNeed.profile_id == NeedsProfile.id)
        .where(NeedsProfile.id == bindparam("profile_id"), scope)
        .order_by(ProfileNeed.position)
    )


async def get_match_terms(
    session: AsyncSession, principal: Principal, profile_id: uuid.UUID
) -> MatchTerms | None:
    """What a match reads of a profile, as plain rows on the session's connection: one per
    need, the rest repeated. Loading the profile and its district as ORM objects and dumping
    them through the read schema cost twice as much; whoever may see a profile may see its
    district, so the district needs no scope of its own."""
    query = _terms_by_id(principal.is_state_staff, principal.district_id is not None)
    connection = await session.connection()
    rows = (await connection.execute(query, _by_id_values(principal, profile_id))).all()
    if not rows:
        return None
    district_id, region, locale, _domain, _priority, *terms = rows[0]
    return MatchTerms(
        district_id=district_id,
        region=region,
        locale=str(locale),
        terms={column.key: value for column, value in zip(MATCH_TERMS, terms, strict=True)}
        | {
            "funding_source": str(rows[0].funding_source),
            "needs": [{"need_domain": row.need_domain, "priority": row.priority} for row in rows],
        },
    )


async def unknown_need_domains(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    """The codes that are not in the taxonomy, in the order given."""
    wanted = list(codes)
    known = set(await session.scalars(select(NeedDomain.code).where(NeedDomain.code.in_(wanted))))
    return [code for code in wanted if code not in known]
