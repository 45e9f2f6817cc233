from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.principal import Principal
from app.core.errors import Conflict
from app.districts.models import District
from app.districts.schemas import DistrictCreate


async def create(session: AsyncSession, actor: Principal, data: DistrictCreate) -> District:
    district = District(**data.model_dump())
    session.add(district)
    # The unique index decides, not a look first: two creates at once both find nothing.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"A district with NCES id {data.nces_id} already exists.") from None
    await record(session, actor, "district.created", "district", district.id, data.model_dump())
    return district
