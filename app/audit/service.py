"""Write the audit trail: one event per change, in the change's own transaction."""

import uuid
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.auth.principal import Principal


async def record(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    changes: dict[str, Any],
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor.user_id if actor else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=jsonable_encoder(changes),
    )
    session.add(event)
    await session.flush()
    return event


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }
