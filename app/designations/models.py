import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, utcnow


class Designation(IdMixin, Base):
    """One term of a partner's designation, kept forever.

    The partner row carries the current term (``approved_at``/``expires_at``) for fast
    filtering; this table is the history behind it, with suspensions and how the term ended.
    """

    __tablename__ = "designations"
    __table_args__ = (Index("ix_designations_partner", "partner_id", "approved_at"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reviews.id"), unique=True)
    approved_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Set when the term stops before expires_at (withdrawal, renewal, a denied renewal).
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(Text)
    # [{at, event, reason}] for suspensions and reinstatements within the term.
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
