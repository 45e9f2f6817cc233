import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type, utcnow


class Role(StrEnum):
    STATE_ADMIN = "state_admin"
    STATE_REVIEWER = "state_reviewer"
    DISTRICT = "district"
    PARTNER = "partner"


class User(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("(role = 'district') = (district_id IS NOT NULL)", name="district_binding"),
        CheckConstraint("(role = 'partner') = (partner_id IS NOT NULL)", name="partner_binding"),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"))
    district_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("districts.id"), index=True)
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("partners.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The first characters of the key, enough for a person to tell keys apart; never the key.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def role(self) -> Role:
        return self.user.role


class SignInFailure(IdMixin, Base):
    """Failed password sign-ins, counted to throttle guessing per account and per client."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_at", "email", "at"),
        Index("ix_sign_in_failures_client_at", "client", "at"),
    )

    at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str] = mapped_column(String(254))
    client: Mapped[str] = mapped_column(String(64))
