"""Every partner query, scoped to what the caller may see."""

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from app.auth.models import Role
from app.auth.principal import Principal
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet, Partner, PartnerEvidenceTier, PartnerFacet
from app.partners.schemas import PartnerFilters

# Districts shop among partners the state has designated at some point; drafts and
# applications stay between the partner and the state.
DISTRICT_VISIBLE = (PartnerStatus.APPROVED, PartnerStatus.SUSPENDED, PartnerStatus.EXPIRED)


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.role is Role.PARTNER and principal.partner_id is not None:
        return Partner.id == principal.partner_id
    if principal.role is Role.DISTRICT:
        return Partner.status.in_(DISTRICT_VISIBLE)
    return false()


def _with_details(query: Select[Partner]) -> Select[Partner]:
    return query.options(selectinload(Partner.facets), selectinload(Partner.evidence_tiers))


async def get(session: AsyncSession, principal: Principal, partner_id: uuid.UUID) -> Partner | None:
    query = select(Partner).where(Partner.id == partner_id, _scope(principal))
    return await session.scalar(_with_details(query))


def _has_facet(facet: Facet, value: str) -> ColumnElement[bool]:
    return exists().where(
        PartnerFacet.partner_id == Partner.id,
        PartnerFacet.facet == facet,
        PartnerFacet.value == value,
    )


def status_is(status: PartnerStatus, moment: datetime) -> ColumnElement[bool]:
    """The status as people read it on ``moment``: an approval past its term is expired."""
    lapsed = and_(Partner.status == PartnerStatus.APPROVED, Partner.expires_at <= moment)
    if status is PartnerStatus.APPROVED:
        return and_(Partner.status == status, or_(Partner.expires_at.is_(None), ~lapsed))
    if status is PartnerStatus.EXPIRED:
        return or_(Partner.status == status, lapsed)
    return Partner.status == status


def _contains(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def list_query(principal: Principal, filters: PartnerFilters, moment: datetime) -> Select[Partner]:
    conditions: list[ColumnElement[bool]] = [_scope(principal)]
    for facet, value in (
        (Facet.NEED_DOMAIN, filters.need_domain),
        (Facet.REGION, filters.region),
        (Facet.GRADE_BAND, filters.grade_band),
        (Facet.LOCALE, filters.locale),
    ):
        if value is not None:
            conditions.append(_has_facet(facet, value))
    if filters.min_evidence_tier is not None:
        strong_enough = [
            PartnerEvidenceTier.partner_id == Partner.id,
            PartnerEvidenceTier.tier <= filters.min_evidence_tier,
        ]
        if filters.need_domain is not None:
            strong_enough.append(PartnerEvidenceTier.need_domain == filters.need_domain)
        conditions.append(exists().where(*strong_enough))
    if filters.status is not None:
        conditions.append(status_is(filters.status, moment))
    if filters.q:
        conditions.append(
            or_(_contains(Partner.name, filters.q), _contains(Partner.description, filters.q))
        )
    return _with_details(select(Partner).where(*conditions))
