import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from app.auth.dependencies import CurrentPrincipal, StateAdmin
from app.core.db import SessionDep
from app.core.errors import NotFound, problem_responses
from app.core.etag import IfMatch, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, paginate
from app.districts import repository, service
from app.districts.models import AccountabilityStatus, District
from app.districts.schemas import DistrictCreate, DistrictRead, DistrictUpdate, NcesId
from app.idempotency.service import IdempotencyDep
from app.partners.schemas import Region

router = APIRouter(prefix="/districts", tags=["districts"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DistrictRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_district(
    body: DistrictCreate, session: SessionDep, admin: StateAdmin, idempotency: IdempotencyDep
) -> Response:
    async def create() -> tuple[DistrictRead, str]:
        district = await service.create(session, admin, body)
        return DistrictRead.model_validate(district), f"/v1/districts/{district.id}"

    return await idempotency.run(body, create)


@router.get("", responses=problem_responses(401, 422))
async def list_districts(
    session: SessionDep,
    principal: CurrentPrincipal,
    nces_id: NcesId | None = None,
    region: Region | None = None,
    accountability_status: AccountabilityStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DistrictRead]:
    """State staff see every district; a district user sees its own. By name; the filters
    combine (`nces_id` finds one district by its NCES id)."""
    districts, next_cursor = await paginate(
        session,
        repository.list_query(principal, nces_id, region, accountability_status),
        [District.name, District.id],
        cursor,
        limit,
    )
    return Page(
        items=[DistrictRead.model_validate(district) for district in districts],
        next_cursor=next_cursor,
    )


async def visible_district(
    district_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> District:
    """The district, if the caller may see it; another district's is a 404 too."""
    district = await repository.get(session, principal, district_id)
    if district is None:
        raise NotFound(f"No district {district_id}.")
    return district


VisibleDistrict = Annotated[District, Depends(visible_district)]


@router.get("/{district_id}", responses=problem_responses(401, 404))
async def read_district(district: VisibleDistrict, response: Response) -> DistrictRead:
    response.headers["ETag"] = etag(district.version)
    return DistrictRead.model_validate(district)


@router.patch("/{district_id}", responses=problem_responses(401, 403, 404, 409, 412, 422, 428))
async def update_district(
    body: DistrictUpdate,
    admin: StateAdmin,
    district: VisibleDistrict,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> DistrictRead:
    """Correct the district or bring it up to date: a new year's enrollment, its ESSA status.

    Matches read the district when they are made; stored matches keep what they used.
    """
    check_if_match(if_match, district.version)
    await service.update(session, admin, district, body)
    response.headers["ETag"] = etag(district.version)
    return DistrictRead.model_validate(district)
