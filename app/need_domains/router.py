from fastapi import APIRouter, Response, status
from sqlalchemy import select

from app.auth.dependencies import CurrentPrincipal, StateAdmin
from app.core.db import SessionDep
from app.core.errors import NotFound, problem_responses
from app.core.pagination import Cursor, Limit, Page, paginate
from app.core.schemas import Code
from app.idempotency.service import IdempotencyDep
from app.need_domains import service
from app.need_domains.models import NeedDomain
from app.need_domains.schemas import NeedDomainCreate, NeedDomainRead

router = APIRouter(prefix="/need-domains", tags=["need-domains"])


@router.get("", responses=problem_responses(401, 422))
async def list_need_domains(
    session: SessionDep, _principal: CurrentPrincipal, cursor: Cursor = None, limit: Limit = 50
) -> Page[NeedDomainRead]:
    """The shared taxonomy of needs and services, by code."""
    domains, next_cursor = await paginate(
        session, select(NeedDomain), [NeedDomain.code], cursor, limit
    )
    return Page(
        items=[NeedDomainRead.model_validate(domain) for domain in domains],
        next_cursor=next_cursor,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NeedDomainRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_need_domain(
    body: NeedDomainCreate, session: SessionDep, admin: StateAdmin, idempotency: IdempotencyDep
) -> Response:
    async def create() -> tuple[NeedDomainRead, str]:
        domain = await service.create(session, admin, body)
        return NeedDomainRead.model_validate(domain), f"/v1/need-domains/{domain.code}"

    return await idempotency.run(body, create)


@router.get("/{code}", responses=problem_responses(401, 404))
async def read_need_domain(
    code: Code, session: SessionDep, _principal: CurrentPrincipal
) -> NeedDomainRead:
    domain = await session.get(NeedDomain, code)
    if domain is None:
        raise NotFound(f"No need domain {code!r}.")
    return NeedDomainRead.model_validate(domain)
