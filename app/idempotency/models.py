from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, utcnow


class IdempotentRequest(IdMixin, Base):
    """The first response to a create sent with an ``Idempotency-Key``, kept for replays."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("owner", "key"),)

    owner: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
