import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentPrincipal
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.partners import repository
from app.partners.models import Partner


class PartnerNotFound(NotFound):
    title = "Partner not found"


async def valid_partner_id(
    partner_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Partner:
    """The partner, if it exists and the caller may see it; another tenant's is a 404 too."""
    partner = await repository.get(session, principal, partner_id)
    if partner is None:
        raise PartnerNotFound(f"No partner {partner_id}.")
    return partner


VisiblePartner = Annotated[Partner, Depends(valid_partner_id)]
