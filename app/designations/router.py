from fastapi import APIRouter

from app.auth.dependencies import CurrentPrincipal
from app.core.base import utcnow
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Cursor, Limit, Page, paginate
from app.designations import repository
from app.designations.models import Designation
from app.designations.schemas import DesignationRead, designation_read
from app.partners.dependencies import VisiblePartner

router = APIRouter(tags=["due diligence"])


@router.get("/partners/{partner_id}/designations", responses=problem_responses(401, 404, 422))
async def list_partner_designations(
    partner: VisiblePartner,
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DesignationRead]:
    """Every designation term the partner has held, oldest first, with how each ended."""
    designations, next_cursor = await paginate(
        session,
        repository.for_partner(partner.id),
        [Designation.approved_at, Designation.id],
        cursor,
        limit,
    )
    now = utcnow()
    return Page(
        items=[designation_read(row, partner, principal, now) for row in designations],
        next_cursor=next_cursor,
    )
