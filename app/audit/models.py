import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, utcnow


class AuditEvent(IdMixin, Base):
    """Append-only: the migration forbids UPDATE and DELETE on this table in the database."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_id", "at"),
        Index("ix_audit_events_actor", "actor_id", "at"),
        Index("ix_audit_events_at", "at", "id"),
    )

    at: Mapped[datetime] = mapped_column(default=utcnow)
    # No foreign key: the trail must outlive and never block anything it mentions.
    actor_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(63), index=True)
    entity_type: Mapped[str] = mapped_column(String(63))
    entity_id: Mapped[uuid.UUID | None]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
