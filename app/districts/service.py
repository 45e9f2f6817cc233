from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.principal import Principal
from app.core.errors import Conflict
from app.districts import repository
from app.districts.models import District
from app.districts.schemas import DistrictCreate


async def create(session: AsyncSession, actor: Principal, data: DistrictCreate) -> District:
    if await repository.by_nces_id(session, data.nces_id) is not None:
        raise Conflict(f"A district with NCES id {data.nces_id} already exists.")
    district = District(**data.model_dump())
    session.add(district)
    await session.flush()
    await record(session, actor, "district.created", "district", district.id, data.model_dump())
    return district
