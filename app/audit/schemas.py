import uuid
from datetime import datetime
from typing import Any

from app.core.schemas import ResponseModel


class AuditEventRead(ResponseModel):
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    entity_type: str
    entity_id: uuid.UUID | None
    changes: dict[str, Any]
