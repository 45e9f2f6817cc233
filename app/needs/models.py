import uuid
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type
from app.needs.vocabulary import FundingSource


class NeedsProfile(IdMixin, TimestampMixin, VersionedMixin, Base):
    """What a district, or one of its schools, needs help with, and on which terms."""

    __tablename__ = "needs_profiles"
    __table_args__ = (
        CheckConstraint("min_evidence_tier BETWEEN 1 AND 4", name="min_evidence_tier_range"),
        CheckConstraint("budget_per_school_year >= 0", name="budget_not_negative"),
        Index("ix_needs_profiles_district", "district_id", "title", "id"),
    )

    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("districts.id"))
    title: Mapped[str] = mapped_column(String(200))
    school_name: Mapped[str | None] = mapped_column(String(200))
    grade_bands: Mapped[list[str]] = mapped_column(JSON, default=list)
    student_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    funding_source: Mapped[FundingSource] = mapped_column(
        enum_type(FundingSource, "funding_source")
    )
    min_evidence_tier: Mapped[int] = mapped_column(Integer)
    budget_per_school_year: Mapped[int] = mapped_column(Integer)
    delivery_modes: Mapped[list[str]] = mapped_column(JSON, default=list)
    readiness: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    needs: Mapped[list["ProfileNeed"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ProfileNeed.position"
    )


class ProfileNeed(Base):
    """One weighted need domain of a profile; a table so the taxonomy is a foreign key."""

    __tablename__ = "needs_profile_needs"
    __table_args__ = (CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),)

    profile_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("needs_profiles.id", ondelete="CASCADE"), primary_key=True
    )
    need_domain: Mapped[str] = mapped_column(ForeignKey("need_domains.code"), primary_key=True)
    priority: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
