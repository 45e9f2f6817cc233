from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.core.db import flush_or_raise
from app.core.errors import Conflict
from app.districts.models import District
from app.districts.schemas import DistrictCreate, DistrictRead, DistrictUpdate


def _snapshot(district: District) -> dict[str, Any]:
    return DistrictRead.model_validate(district).model_dump(
        mode="json", exclude={"id", "version", "created_at", "updated_at"}
    )


async def _flush_with_unique_nces_id(session: AsyncSession, nces_id: str) -> None:
    await flush_or_raise(session, Conflict(f"A district with NCES id {nces_id} already exists."))


async def create(session: AsyncSession, actor: Principal, data: DistrictCreate) -> District:
    district = District(**data.model_dump())
    session.add(district)
    await _flush_with_unique_nces_id(session, data.nces_id)
    await record(session, actor, "district.created", "district", district.id, data.model_dump())
    return district


async def update(
    session: AsyncSession, actor: Principal, district: District, data: DistrictUpdate
) -> District:
    before = _snapshot(district)
    for field, value in data.sent().items():
        setattr(district, field, value)
    changed = diff(before, _snapshot(district))
    if not changed:
        return district  # nothing to write: the version stays
    district.updated_at = utcnow()
    await _flush_with_unique_nces_id(session, district.nces_id)
    await record(session, actor, "district.updated", "district", district.id, changed)
    return district
