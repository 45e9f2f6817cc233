from fastapi import APIRouter, Response, status

from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.etag import IfMatch, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, paginate
from app.idempotency.service import IdempotencyDep
from app.needs import repository, service
from app.needs.dependencies import StaffOrDistrict, VisibleDistrict, VisibleNeedsProfile
from app.needs.models import NeedsProfile
from app.needs.schemas import NeedsProfileCreate, NeedsProfileRead, NeedsProfileUpdate

router = APIRouter(tags=["needs"])


@router.post(
    "/districts/{district_id}/needs",
    status_code=status.HTTP_201_CREATED,
    response_model=NeedsProfileRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_needs_profile(
    body: NeedsProfileCreate,
    district: VisibleDistrict,
    principal: StaffOrDistrict,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Describe what the district, or one of its schools, needs."""

    async def create() -> tuple[NeedsProfileRead, str]:
        profile = await service.create(session, principal, district, body)
        return NeedsProfileRead.model_validate(profile), f"/v1/needs/{profile.id}"

    return await idempotency.run(body, create)


@router.get("/districts/{district_id}/needs", responses=problem_responses(401, 403, 404, 422))
async def list_needs_profiles(
    district: VisibleDistrict,
    principal: StaffOrDistrict,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[NeedsProfileRead]:
    """The district's needs profiles, by title."""
    profiles, next_cursor = await paginate(
        session,
        repository.list_query(principal, district.id),
        [NeedsProfile.title, NeedsProfile.id],
        cursor,
        limit,
    )
    return Page(
        items=[NeedsProfileRead.model_validate(profile) for profile in profiles],
        next_cursor=next_cursor,
    )


@router.get("/needs/{needs_id}", responses=problem_responses(401, 403, 404))
async def read_needs_profile(profile: VisibleNeedsProfile, response: Response) -> NeedsProfileRead:
    response.headers["ETag"] = etag(profile.version)
    return NeedsProfileRead.model_validate(profile)


@router.patch("/needs/{needs_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_needs_profile(
    body: NeedsProfileUpdate,
    profile: VisibleNeedsProfile,
    principal: StaffOrDistrict,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> NeedsProfileRead:
    """Change the fields sent; send `If-Match` with the ETag you read."""
    check_if_match(if_match, profile.version)
    await service.update(session, principal, profile, body)
    response.headers["ETag"] = etag(profile.version)
    return NeedsProfileRead.model_validate(profile)
