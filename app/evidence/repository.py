"""Every evidence query, scoped to what the caller may see."""

import uuid
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import ColumnElement, Select, and_, delete, insert, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.auth.models import Role
from app.auth.principal import Principal
from app.core.base import Base
from app.evidence.models import Evidence, EvidenceStatus, ImportedPartner
from app.need_domains.models import NeedDomain
from app.partners import repository as partners
from app.partners.models import PartnerEvidenceTier


def _scope(principal: Principal) -> ColumnElement[bool]:
    """Evidence of the partners the caller may see; districts see only what the state accepted."""
    accepted_only = (
        Evidence.status == EvidenceStatus.ACCEPTED if principal.role is Role.DISTRICT else true()
    )
    return and_(Evidence.partner_id.in_(partners.visible_ids(principal)), accepted_only)


def _with_details(query: Select[Evidence]) -> Select[Evidence]:
    return query.options(selectinload(Evidence.findings), selectinload(Evidence.decisions))


async def get(
    session: AsyncSession, principal: Principal, evidence_id: uuid.UUID
) -> Evidence | None:
    query = select(Evidence).where(Evidence.id == evidence_id, _scope(principal))
    return await session.scalar(_with_details(query))


async def lock(session: AsyncSession, evidence_id: uuid.UUID) -> None:
    """Hold the record's row until commit, and reload it as committed by then."""
    await session.execute(select(Evidence.id).where(Evidence.id == evidence_id).with_for_update())
    query = _with_details(select(Evidence).where(Evidence.id == evidence_id))
    await session.scalar(query.execution_options(populate_existing=True))


def list_query(
    principal: Principal, partner_id: uuid.UUID, status: EvidenceStatus | None
) -> Select[Evidence]:
    conditions = [Evidence.partner_id == partner_id, _scope(principal)]
    if status is not None:
        conditions.append(Evidence.status == status)
    return _with_details(select(Evidence).where(*conditions))


async def known_need_domains(session: AsyncSession, codes: Collection[str]) -> set[str]:
    return set(await session.scalars(select(NeedDomain.code).where(NeedDomain.code.in_(codes))))


async def accepted_by_partner(
    session: AsyncSession, partner_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[Evidence]]:
    """Accepted records with their findings, grouped by partner (for roll-ups, not for callers)."""
    query = (
        select(Evidence)
        .where(Evidence.partner_id.in_(partner_ids), Evidence.status == EvidenceStatus.ACCEPTED)
        .options(selectinload(Evidence.findings))
        .order_by(Evidence.created_at, Evidence.id)
    )
    grouped: dict[uuid.UUID, list[Evidence]] = {partner_id: [] for partner_id in partner_ids}
    for evidence in await session.scalars(query):
        grouped[evidence.partner_id].append(evidence)
    return grouped


async def replace_partner_tiers(
    session: AsyncSession, tiers: Mapping[uuid.UUID, Mapping[str, int]]
) -> None:
    await session.execute(
        delete(PartnerEvidenceTier).where(PartnerEvidenceTier.partner_id.in_(tiers))
    )
    rows = [
        {"partner_id": partner_id, "need_domain": domain, "tier": tier}
        for partner_id, domains in tiers.items()
        for domain, tier in domains.items()
    ]
    if rows:
        await session.execute(insert(PartnerEvidenceTier), rows)


async def imported_ids(session: AsyncSession, source: str) -> set[str]:
    query = select(Evidence.external_id).where(Evidence.source == source)
    return {external_id for external_id in await session.scalars(query) if external_id}


async def imported_partners(session: AsyncSession, source: str) -> dict[str, uuid.UUID]:
    query = select(ImportedPartner).where(ImportedPartner.source == source)
    return {row.external_id: row.partner_id for row in await session.scalars(query)}


async def insert_rows(
    session: AsyncSession, model: type[Base], rows: Iterable[Mapping[str, object]]
) -> None:
    """Bulk insert for imports: one executemany per table instead of one round trip per row."""
    batch = list(rows)
    if batch:
        await session.execute(insert(model), batch)
