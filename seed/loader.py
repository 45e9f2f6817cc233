"""Load reference data (always) and the demo registry (on request), idempotently.

Each record is matched on its natural key (need-domain code, rubric name, district NCES id,
needs-profile title within its district, partner name, user email); what already exists is
left exactly as it is. Demo partners go
through the real services: application, review, scores by two reviewers, decision, and for a
few, engagements with districts and their check-ins.
"""

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import repository as users
from app.auth import service as auth_service
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.schemas import UserCreate
from app.core.base import utcnow
from app.designations import repository as designations
from app.districts import repository as districts
from app.districts import service as district_service
from app.districts.models import District
from app.districts.schemas import DistrictCreate
from app.engagements import service as engagement_service
from app.engagements.lifecycle import EngagementStatus
from app.engagements.schemas import CheckInCreate, EngagementCreate, EngagementUpdate
from app.evidence import service as evidence_service
from app.evidence.classifier import Thresholds
from app.evidence.models import EvidenceDecisionKind
from app.evidence.schemas import DecisionIn, EvidenceCreate
from app.need_domains.models import NeedDomain
from app.needs import service as needs_service
from app.needs.models import NeedsProfile
from app.needs.schemas import NeedsProfileCreate
from app.partners import service as partner_service
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Partner
from app.partners.schemas import PartnerCreate
from app.reviews import repository as reviews
from app.reviews import service as review_service
from app.reviews.models import Review, ReviewDecisionKind
from app.reviews.schemas import (
    ConflictOfInterest,
    DecisionCreate,
    ReviewCreate,
    RubricCreate,
    ScoreIn,
    ScoresPut,
)

SEED_DIR = Path(__file__).resolve().parent
# The actor of changes made by the command line rather than by a person signed in.
SYSTEM = Principal(user_id=uuid.UUID(int=0), role=Role.STATE_ADMIN)
# The demo's two reviewers: scores need someone besides the decider (four eyes).
DEMO_REVIEWERS = tuple(
    Principal(user_id=uuid.UUID(int=number), role=Role.STATE_REVIEWER) for number in (1, 2)
)
NO_CONFLICT = ConflictOfInterest(
    declared=False, statement="No financial, family or employment ties to this organisation."
)
DAYS_PER_MONTH = 30.44
DEMO_TERM_MONTHS = 36


def _read(relative: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SEED_DIR / relative).read_text())
    return data


async def load_reference(session: AsyncSession) -> int:
    added = 0
    for row in _read("reference/need_domains.json"):
        if await session.get(NeedDomain, row["code"]) is None:
            session.add(NeedDomain(**({"description": "", "parent": None} | row)))
            await session.flush()
            await record(session, SYSTEM, "need_domain.created", "need_domain", None, row)
            added += 1
    rubric = RubricCreate.model_validate(
        json.loads((SEED_DIR / "reference/rubric_default.json").read_text())
    )
    if await reviews.latest_rubric(session, rubric.name) is None:
        await review_service.create_rubric(session, SYSTEM, rubric)
        added += 1
    return added


async def _scored_review(
    session: AsyncSession, partner: Partner, score: int, scorers: int
) -> Review:
    review = await review_service.open_review(session, SYSTEM, partner, ReviewCreate())
    rubric = review.rubric
    level = max(rubric.scale_min, min(rubric.scale_max, score))
    sheet = ScoresPut(
        conflict_of_interest=NO_CONFLICT,
        scores=[ScoreIn(criterion=row["code"], score=level) for row in rubric.criteria],
    )
    for reviewer in DEMO_REVIEWERS[:scorers]:
        await review_service.put_scores(session, reviewer, review, None, sheet)
    return review


async def _backdate(session: AsyncSession, partner: Partner, months_left: float) -> None:
    """Place a fresh demo designation on the calendar, so the directory shows every stage."""
    designation = await designations.current(session, partner.id)
    assert designation is not None
    expires_at = utcnow() + timedelta(days=months_left * DAYS_PER_MONTH)
    approved_at = expires_at - timedelta(days=DEMO_TERM_MONTHS * DAYS_PER_MONTH)
    partner.approved_at = designation.approved_at = approved_at
    partner.expires_at = designation.expires_at = expires_at
    await session.flush()


async def _walk(session: AsyncSession, partner: Partner, demo: dict[str, Any]) -> None:
    status = PartnerStatus(demo["demo_status"])
    reason = demo.get("demo_reason", "")
    if status is PartnerStatus.DRAFT:
        return
    await partner_service.change_status(session, SYSTEM, partner, PartnerStatus.SUBMITTED, "")
    if status is PartnerStatus.SUBMITTED:
        return
    await partner_service.change_status(session, SYSTEM, partner, PartnerStatus.UNDER_REVIEW, "")
    if status is PartnerStatus.UNDER_REVIEW:
        await _scored_review(session, partner, 3, scorers=1)
        return
    review = await _scored_review(session, partner, demo.get("demo_score", 3), scorers=2)
    conditions = demo.get("demo_conditions", [])
    if status is PartnerStatus.DENIED:
        decision = ReviewDecisionKind.DENY
    elif conditions:
        decision = ReviewDecisionKind.APPROVE_WITH_CONDITIONS
    else:
        decision = ReviewDecisionKind.APPROVE
    data = DecisionCreate(
        decision=decision, conditions=conditions, rationale=reason or "Meets the rubric."
    )
    await review_service.decide(session, SYSTEM, review, partner, data, DEMO_TERM_MONTHS)
    if "demo_months_left" in demo:
        await _backdate(session, partner, demo["demo_months_left"])
    if status in {PartnerStatus.SUSPENDED, PartnerStatus.WITHDRAWN}:
        await partner_service.change_status(session, SYSTEM, partner, status, reason)
    if demo.get("demo_renewal"):
        await partner_service.change_status(
            session, SYSTEM, partner, PartnerStatus.UNDER_REVIEW, ""
        )
        await _scored_review(session, partner, 3, scorers=1)


async def _load_evidence(
    session: AsyncSession, partner: Partner, studies: list[dict[str, Any]], limits: Thresholds
) -> None:
    """Submit the partner's demo studies and decide them as a state reviewer would."""
    for study in studies:
        decision = study.pop("demo_decision")
        evidence = await evidence_service.create(
            session, SYSTEM, partner, EvidenceCreate.model_validate(study), limits
        )
        if decision == "accept":
            verdict = DecisionIn(decision=EvidenceDecisionKind.ACCEPT)
        elif decision == "return":
            verdict = DecisionIn(
                decision=EvidenceDecisionKind.RETURN,
                rationale="Single-site study that does not meet standards.",
                feedback="Please add the multi-district evaluation you mention.",
            )
        else:
            continue
        await evidence_service.decide(session, SYSTEM, evidence, verdict, limits)


async def _load_engagements(
    session: AsyncSession, partner: Partner, engagements: list[dict[str, Any]]
) -> None:
    """Engage the designated partner as its districts did, with their check-ins: the demo's
    track records, one good, one middling and one not yet rated."""
    for demo in engagements:
        district = await districts.by_nces_id(session, demo.pop("district"))
        assert district is not None, "demo engagements name demo districts"
        check_ins = demo.pop("check_ins")
        end_date = demo.pop("end_date", None)
        final = EngagementStatus(demo.pop("status"))
        data = EngagementCreate.model_validate(
            demo | {"partner_id": partner.id, "district_id": district.id, "status": "active"}
        )
        engagement = await engagement_service.create(session, SYSTEM, data)
        for check_in in check_ins:
            await engagement_service.check_in(
                session, SYSTEM, engagement, CheckInCreate.model_validate(check_in)
            )
        if final is not EngagementStatus.ACTIVE:
            ended = EngagementUpdate.model_validate({"status": final, "end_date": end_date})
            await engagement_service.update(session, SYSTEM, engagement, ended)


async def _load_partner(session: AsyncSession, row: dict[str, Any], limits: Thresholds) -> bool:
    if await session.scalar(select(Partner.id).where(Partner.name == row["name"])):
        return False
    demo = {key: row.pop(key) for key in list(row) if key.startswith("demo_")}
    partner = await partner_service.create(session, SYSTEM, PartnerCreate.model_validate(row))
    await _load_evidence(session, partner, demo.get("demo_evidence", []), limits)
    await _walk(session, partner, demo)
    await _load_engagements(session, partner, demo.get("demo_engagements", []))
    return True


async def load_demo(
    session: AsyncSession, *, with_users: bool, limits: Thresholds
) -> dict[str, int]:
    counts = {"districts": 0, "needs_profiles": 0, "partners": 0, "users": 0}
    for row in _read("demo/districts.json"):
        needs = row.pop("demo_needs", [])
        district = await districts.by_nces_id(session, row["nces_id"])
        if district is None:
            district = await district_service.create(
                session, SYSTEM, DistrictCreate.model_validate(row)
            )
            counts["districts"] += 1
        counts["needs_profiles"] += await _load_needs(session, district, needs)
    for row in _read("demo/partners.json"):
        counts["partners"] += await _load_partner(session, row, limits)
    if with_users:
        for row in _read("demo/users.json"):
            counts["users"] += await _load_user(session, row)
    return counts


async def _load_needs(
    session: AsyncSession, district: District, profiles: list[dict[str, Any]]
) -> int:
    """Describe the district's demo needs, so a match can be asked of a stored profile."""
    titles = set(
        await session.scalars(
            select(NeedsProfile.title).where(NeedsProfile.district_id == district.id)
        )
    )
    added = 0
    for row in profiles:
        if row["title"] not in titles:
            data = NeedsProfileCreate.model_validate(row)
            await needs_service.create(session, SYSTEM, district, data)
            added += 1
    return added


async def _load_user(session: AsyncSession, row: dict[str, Any]) -> bool:
    if await users.user_by_email(session, row["email"]) is not None:
        return False
    district = row.pop("district", None)
    partner = row.pop("partner", None)
    if district is not None:
        found = await districts.by_nces_id(session, district)
        row["district_id"] = found.id if found else None
    if partner is not None:
        row["partner_id"] = await session.scalar(select(Partner.id).where(Partner.name == partner))
    await auth_service.create_user(session, SYSTEM, UserCreate.model_validate(row))
    return True


def demo_credentials() -> list[dict[str, Any]]:
    return _read("demo/users.json")
