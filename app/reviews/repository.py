"""Every rubric and review query; reviews are scoped to the caller."""

import uuid

from sqlalchemy import ColumnElement, Select, false, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.auth.models import Role
from app.auth.principal import Principal
from app.partners.models import PartnerEvidenceTier
from app.reviews.models import Review, ReviewDecision, Rubric, ScoreSheet


def rubrics_query(name: str | None) -> Select[Rubric]:
    query = select(Rubric)
    return query if name is None else query.where(Rubric.name == name)


async def rubric(session: AsyncSession, rubric_id: uuid.UUID) -> Rubric | None:
    return await session.get(Rubric, rubric_id)


async def latest_rubric(session: AsyncSession, name: str) -> Rubric | None:
    query = select(Rubric).where(Rubric.name == name).order_by(Rubric.version.desc()).limit(1)
    return await session.scalar(query)


async def next_rubric_version(session: AsyncSession, name: str) -> int:
    latest = await session.scalar(select(func.max(Rubric.version)).where(Rubric.name == name))
    return (latest or 0) + 1


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.is_state_staff:
        return true()
    if principal.role is Role.PARTNER and principal.partner_id is not None:
        return Review.partner_id == principal.partner_id
    return false()


def _with_details(query: Select[Review]) -> Select[Review]:
    return query.options(
        selectinload(Review.rubric),
        selectinload(Review.sheets).selectinload(ScoreSheet.scores),
        selectinload(Review.decision),
    )


async def get(session: AsyncSession, principal: Principal, review_id: uuid.UUID) -> Review | None:
    query = select(Review).where(Review.id == review_id, _scope(principal))
    return await session.scalar(_with_details(query))


async def lock(session: AsyncSession, review_id: uuid.UUID) -> None:
    """Hold the review's row until commit, then reload it (sheets, scores, decision) as committed.

    Scoring and deciding both start here, so neither acts on what the other is changing: a
    decision sees every sheet committed before it, and a sheet written after a decision sees
    the decision. On PostgreSQL the second waits here for the first to commit; SQLite
    serialises writers anyway.
    """
    await session.execute(
        select(Review.id).where(Review.id == review_id).with_for_update(key_share=True)
    )
    query = _with_details(select(Review).where(Review.id == review_id))
    await session.scalar(query.execution_options(populate_existing=True))


def for_partner(principal: Principal, partner_id: uuid.UUID) -> Select[Review]:
    return _with_details(select(Review).where(Review.partner_id == partner_id, _scope(principal)))


async def open_review(session: AsyncSession, partner_id: uuid.UUID) -> Review | None:
    undecided = (
        ~select(ReviewDecision.review_id).where(ReviewDecision.review_id == Review.id).exists()
    )
    query = select(Review).where(Review.partner_id == partner_id, undecided).limit(1)
    return await session.scalar(query)


async def sheet(
    session: AsyncSession, review_id: uuid.UUID, reviewer_id: uuid.UUID
) -> ScoreSheet | None:
    query = (
        select(ScoreSheet)
        .where(ScoreSheet.review_id == review_id, ScoreSheet.reviewer_id == reviewer_id)
        .options(selectinload(ScoreSheet.scores))
    )
    return await session.scalar(query)


async def evidence_tiers(session: AsyncSession, partner_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(PartnerEvidenceTier.need_domain, PartnerEvidenceTier.tier).where(
            PartnerEvidenceTier.partner_id == partner_id
        )
    )
    return dict(sorted((domain, tier) for domain, tier in rows))
