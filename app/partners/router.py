import uuid

from fastapi import APIRouter, Response, status

from app.auth.dependencies import CurrentPrincipal, StaffOrPartner, StateStaff
from app.core.base import utcnow
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.etag import IfMatch, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, read_page
from app.core.responses import json_response, page_response
from app.idempotency.service import IdempotencyDep
from app.partners import repository, service
from app.partners.dependencies import PartnerFiltersDep, PartnerNotFound, VisiblePartner
from app.partners.lifecycle import PartnerStatus
from app.partners.schemas import (
    PartnerCreate,
    PartnerRead,
    PartnerUpdate,
    StatusChange,
    partner_read,
    partner_view,
)

router = APIRouter(prefix="/partners", tags=["partners"])

READ_ERRORS = problem_responses(401, 403, 404)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 412, 422, 428)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_partner(
    body: PartnerCreate, session: SessionDep, staff: StateStaff, idempotency: IdempotencyDep
) -> Response:
    """Create a partner profile in `draft`."""

    async def create() -> tuple[PartnerRead, str]:
        partner = await service.create(session, staff, body)
        return partner_read(partner, staff, utcnow()), f"/v1/partners/{partner.id}"

    return await idempotency.run(body, create)


@router.get("", response_model=Page[PartnerRead], responses=problem_responses(401, 403, 422))
async def list_partners(
    session: SessionDep,
    principal: CurrentPrincipal,
    filters: PartnerFiltersDep,
    status: PartnerStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Response:
    """Partners the caller may see, sorted by name, filtered."""
    filters = filters.model_copy(update={"status": status})
    now = utcnow()
    partners, next_cursor = await read_page(
        session,
        repository.list_page(principal, filters, after_cursor=cursor is not None),
        repository.ORDER,
        cursor,
        limit,
        repository.filter_values(filters, now),
        repository.records,
    )
    return page_response(
        [partner_view(partner, principal, now) for partner in partners], next_cursor
    )


@router.get("/{partner_id}", response_model=PartnerRead, responses=READ_ERRORS)
async def read_partner(
    partner_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    partner = await repository.get_record(session, principal, partner_id)
    if partner is None:
        raise PartnerNotFound(f"No partner {partner_id}.")
    return json_response(
        partner_view(partner, principal, utcnow()), headers={"ETag": etag(partner.version)}
    )


@router.patch("/{partner_id}", responses=WRITE_ERRORS)
async def update_partner(
    body: PartnerUpdate,
    principal: StaffOrPartner,
    partner: VisiblePartner,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> PartnerRead:
    """Change profile fields; send `If-Match` with the ETag you read."""
    check_if_match(if_match, partner.version)
    await service.update(session, principal, partner, body)
    response.headers["ETag"] = etag(partner.version)
    return partner_read(partner, principal, utcnow())


# No If-Match: the lifecycle's own rules refuse a stale move (409); 412 is a lost race.
@router.post("/{partner_id}/status", responses=problem_responses(401, 403, 404, 409, 412, 422))
async def change_partner_status(
    body: StatusChange,
    principal: StaffOrPartner,
    partner: VisiblePartner,
    session: SessionDep,
    response: Response,
) -> PartnerRead:
    """Move the partner along its lifecycle; an illegal move answers 409 with `allowed`."""
    await service.change_status(session, principal, partner, body.status, body.reason)
    response.headers["ETag"] = etag(partner.version)
    return partner_read(partner, principal, utcnow())
