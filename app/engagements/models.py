import uuid
from datetime import date

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type
from app.engagements.lifecycle import EngagementStatus


class Engagement(IdMixin, TimestampMixin, VersionedMixin, Base):
    """A partner serving a district; the active ones use up the partner's capacity."""

    __tablename__ = "engagements"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        Index("ix_engagements_partner_status", "partner_id", "status"),
        Index("ix_engagements_district", "district_id", "id"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("districts.id"))
    needs_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("needs_profiles.id"))
    need_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[EngagementStatus] = mapped_column(
        enum_type(EngagementStatus, "engagement_status")
    )
