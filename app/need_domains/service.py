from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.principal import Principal
from app.core.db import flush_or_raise
from app.core.errors import Conflict, InvalidInput
from app.need_domains.models import NeedDomain
from app.need_domains.schemas import NeedDomainCreate


async def create(session: AsyncSession, actor: Principal, data: NeedDomainCreate) -> NeedDomain:
    if data.parent is not None and await session.get(NeedDomain, data.parent) is None:
        raise InvalidInput(["body", "parent"], f"No need domain {data.parent!r}.")
    domain = NeedDomain(**data.model_dump())
    session.add(domain)
    await flush_or_raise(session, Conflict(f"Need domain {data.code!r} already exists."))
    await record(session, actor, "need_domain.created", "need_domain", None, data.model_dump())
    return domain
