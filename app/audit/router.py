import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.schemas import AuditEventRead
from app.auth.dependencies import StateStaff
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Cursor, Limit, Page, paginate

router = APIRouter(prefix="/audit-events", tags=["audit"])


@router.get("", responses=problem_responses(401, 403, 422))
async def list_audit_events(
    session: SessionDep,
    _staff: StateStaff,
    entity_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=63, pattern=r"^[a-z_.]+$")] = None,
    entity_type: Annotated[str | None, Query(max_length=63, pattern=r"^[a-z_]+$")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AuditEventRead]:
    """The append-only trail of every change, oldest first."""
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.entity_id, entity_id),
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.action, action),
        (AuditEvent.entity_type, entity_type),
    ):
        if value is not None:
            query = query.where(column == value)
    events, next_cursor = await paginate(
        session, query, [AuditEvent.at, AuditEvent.id], cursor, limit
    )
    return Page(
        items=[AuditEventRead.model_validate(event) for event in events], next_cursor=next_cursor
    )
