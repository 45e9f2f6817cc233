"""Every partner query, scoped to what the caller may see."""

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, joinedload, selectinload

from app.auth.models import Role
from app.auth.principal import Principal
from app.partners.lifecycle import PartnerStatus
from app.partners.models import (
    DESIGNATED_STATUSES,
    Facet,
    Partner,
    PartnerEvidenceTier,
    PartnerFacet,
)
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
        return district_visible()
    return false()


def district_visible() -> ColumnElement[bool]:
    """The partners districts may see and match against: designated now or at some point."""
    # A partner renewing its designation is under_review but was designated all the same.
    return or_(Partner.status.in_(DISTRICT_VISIBLE), Partner.approved_at.is_not(None))


def visible_ids(principal: Principal) -> Select[uuid.UUID]:
    """The ids of the partners the caller may see, for scoping what hangs off a partner."""
    return select(Partner.id).where(_scope(principal))


def _with_details(query: Select[Partner]) -> Select[Partner]:
    return query.options(selectinload(Partner.facets), selectinload(Partner.evidence_tiers))


async def get(session: AsyncSession, principal: Principal, partner_id: uuid.UUID) -> Partner | None:
    # One round trip instead of three: for a single partner, joining its few facets and tiers
    # costs less than the two extra queries of selectinload.
    query = select(Partner).where(Partner.id == partner_id, _scope(principal))
    query = query.options(joinedload(Partner.facets), joinedload(Partner.evidence_tiers))
    return (await session.scalars(query)).unique().one_or_none()


def _has_facet(facet: Facet, value: str) -> ColumnElement[bool]:
    return exists().where(
        PartnerFacet.partner_id == Partner.id,
        PartnerFacet.facet == facet,
        PartnerFacet.value == value,
    )


def has_any_facet(facet: Facet, values: Collection[str]) -> ColumnElement[bool]:
    """A semi-join that reads the (facet, value, partner_id) index once for a whole scan of
    partners, where a correlated EXISTS would probe it once per partner."""
    return Partner.id.in_(
        select(PartnerFacet.partner_id).where(
            PartnerFacet.facet == facet, PartnerFacet.value.in_(values)
        )
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


def designation_active(moment: datetime) -> ColumnElement[bool]:
    """``Partner.designated_on`` in SQL: change both together."""
    return and_(
        Partner.status.in_(DESIGNATED_STATUSES),
        Partner.approved_at <= moment,
        Partner.expires_at > moment,
    )


def _filtered(filters: PartnerFilters, moment: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
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
    return conditions


def list_query(principal: Principal, filters: PartnerFilters, moment: datetime) -> Select[Partner]:
    conditions = [_scope(principal), *_filtered(filters, moment)]
    return _with_details(select(Partner).where(*conditions))


def directory_query(filters: PartnerFilters, moment: datetime) -> Select[Partner]:
    """The public directory: no caller scope, only what is designated on ``moment``."""
    conditions = [designation_active(moment), *_filtered(filters, moment)]
    return _with_details(select(Partner).where(*conditions))


async def lock(session: AsyncSession, partner_ids: Collection[uuid.UUID]) -> None:
    """Hold the partners' rows until commit, in id order so that two lockers cannot deadlock.

    For rules that read several rows hanging off a partner and then write: a second writer
    waits here and then sees the first one's committed rows. SQLite serialises writers anyway.
    """
    query = select(Partner.id).where(Partner.id.in_(partner_ids)).order_by(Partner.id)
    await session.execute(query.with_for_update())
