import uuid

from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.etag import IfMatch, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, paginate
from app.engagements import repository, service
from app.engagements.dependencies import VisibleEngagement
from app.engagements.lifecycle import EngagementStatus
from app.engagements.models import CheckIn, Engagement
from app.engagements.schemas import (
    CheckInCreate,
    CheckInRead,
    EngagementCreate,
    EngagementRead,
    EngagementUpdate,
)
from app.idempotency.service import IdempotencyDep
from app.needs.dependencies import StaffOrDistrict

router = APIRouter(prefix="/engagements", tags=["engagements"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EngagementRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_engagement(
    body: EngagementCreate,
    principal: StaffOrDistrict,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Record that a designated partner serves a district; `active` ones use its capacity."""

    async def create() -> tuple[EngagementRead, str]:
        engagement = await service.create(session, principal, body)
        return EngagementRead.model_validate(engagement), f"/v1/engagements/{engagement.id}"

    return await idempotency.run(body, create)


@router.get("", responses=problem_responses(401, 422))
async def list_engagements(
    session: SessionDep,
    principal: CurrentPrincipal,
    partner_id: uuid.UUID | None = None,
    district_id: uuid.UUID | None = None,
    status: EngagementStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[EngagementRead]:
    """Engagements of the caller's district or partner (state staff: all), by id."""
    engagements, next_cursor = await paginate(
        session,
        repository.list_query(principal, partner_id, district_id, status),
        [Engagement.id],
        cursor,
        limit,
    )
    return Page(
        items=[EngagementRead.model_validate(engagement) for engagement in engagements],
        next_cursor=next_cursor,
    )


@router.get("/{engagement_id}", responses=problem_responses(401, 404))
async def read_engagement(engagement: VisibleEngagement, response: Response) -> EngagementRead:
    response.headers["ETag"] = etag(engagement.version)
    return EngagementRead.model_validate(engagement)


@router.patch("/{engagement_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_engagement(
    body: EngagementUpdate,
    principal: StaffOrDistrict,
    engagement: VisibleEngagement,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> EngagementRead:
    """Change dates, needs or status; an illegal status move answers 409 with `allowed`."""
    check_if_match(if_match, engagement.version)
    await service.update(session, principal, engagement, body)
    response.headers["ETag"] = etag(engagement.version)
    return EngagementRead.model_validate(engagement)


@router.post(
    "/{engagement_id}/check-ins",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckInRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_check_in(
    body: CheckInCreate,
    principal: StaffOrDistrict,
    engagement: VisibleEngagement,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Record a check-in: progress against the goals and the district's rating of the support.

    The engagement's latest check-in is what it counts for in the partner's track record.
    """

    async def create() -> tuple[CheckInRead, str]:
        row = await service.check_in(session, principal, engagement, body)
        location = f"/v1/engagements/{engagement.id}/check-ins/{row.id}"
        return CheckInRead.model_validate(row), location

    return await idempotency.run(body, create)


@router.get("/{engagement_id}/check-ins", responses=problem_responses(401, 404, 422))
async def list_check_ins(
    engagement: VisibleEngagement,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CheckInRead]:
    """The engagement's check-ins, oldest meeting first."""
    rows, next_cursor = await paginate(
        session,
        repository.check_ins_query(engagement.id),
        [CheckIn.held_on, CheckIn.id],
        cursor,
        limit,
    )
    return Page(items=[CheckInRead.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/{engagement_id}/check-ins/{check_in_id}", responses=problem_responses(401, 404))
async def read_check_in(
    engagement: VisibleEngagement, check_in_id: uuid.UUID, session: SessionDep
) -> CheckInRead:
    row = await repository.get_check_in(session, engagement.id, check_in_id)
    if row is None:
        raise service.CheckInNotFound(f"No check-in {check_in_id} on this engagement.")
    return CheckInRead.model_validate(row)
