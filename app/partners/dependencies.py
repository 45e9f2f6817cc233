import uuid
from typing import Annotated

from fastapi import Depends, Query

from app.auth.dependencies import CurrentPrincipal
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.core.schemas import Code, SearchText
from app.core.vocabulary import GradeBand, Locale
from app.partners import repository
from app.partners.models import Partner
from app.partners.schemas import PartnerFilters, Region


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


async def partner_filters(
    need_domain: Annotated[Code | None, Query()] = None,
    min_evidence_tier: Annotated[
        int | None,
        Query(ge=1, le=4, description="Accepted evidence at least this strong (3 admits 1-3)."),
    ] = None,
    region: Annotated[Region | None, Query(max_length=63)] = None,
    grade_band: GradeBand | None = None,
    locale: Locale | None = None,
    q: Annotated[SearchText | None, Query(description="Text in name or description.")] = None,
) -> PartnerFilters:
    """The filters the partner list and the public directory share."""
    return PartnerFilters(
        need_domain=need_domain,
        min_evidence_tier=min_evidence_tier,
        region=region,
        grade_band=grade_band,
        locale=locale,
        q=q,
    )


PartnerFiltersDep = Annotated[PartnerFilters, Depends(partner_filters)]
