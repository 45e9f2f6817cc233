import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import require_roles
from app.auth.models import Role
from app.auth.principal import STATE_ROLES, Principal
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.districts import repository as districts
from app.districts.models import District
from app.needs import repository
from app.needs.models import NeedsProfile

StaffOrDistrict = Annotated[Principal, Depends(require_roles(*STATE_ROLES, Role.DISTRICT))]


class DistrictNotFound(NotFound):
    title = "District not found"


class NeedsProfileNotFound(NotFound):
    title = "Needs profile not found"


async def valid_district_id(
    district_id: uuid.UUID, session: SessionDep, principal: StaffOrDistrict
) -> District:
    """The district, if the caller may act for it; another district's is a 404."""
    district = await districts.get(session, principal, district_id)
    if district is None:
        raise DistrictNotFound(f"No district {district_id}.")
    return district


async def valid_needs_id(
    needs_id: uuid.UUID, session: SessionDep, principal: StaffOrDistrict
) -> NeedsProfile:
    profile = await repository.get(session, principal, needs_id)
    if profile is None:
        raise NeedsProfileNotFound(f"No needs profile {needs_id}.")
    return profile


VisibleDistrict = Annotated[District, Depends(valid_district_id)]
VisibleNeedsProfile = Annotated[NeedsProfile, Depends(valid_needs_id)]
