import uuid
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type, utcnow
from app.engagements.lifecycle import EngagementStatus
from app.engagements.track_record import Progress


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
    # School names; empty for the whole district. The default fills rows older than the column.
    schools: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    # `schemas.Intensity` as a dict: the engagement's days and people.
    intensity: Mapped[dict[str, int | None] | None] = mapped_column(JSON)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[EngagementStatus] = mapped_column(
        enum_type(EngagementStatus, "engagement_status")
    )


class CheckIn(IdMixin, Base):
    """A district's check-in on an engagement: progress and its rating of the support.

    Kept as recorded, never changed: a correction is a later check-in, and the latest one is
    what counts towards the partner's track record (`app.engagements.track_record`).
    """

    __tablename__ = "engagement_check_ins"
    __table_args__ = (
        Index("ix_engagement_check_ins_engagement", "engagement_id", "held_on", "id"),
    )

    engagement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("engagements.id"))
    # The engagement's partner, which never changes: the match index reads a partner's
    # check-ins by it, without a join through every engagement.
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    held_on: Mapped[date] = mapped_column(Date)
    progress: Mapped[Progress] = mapped_column(enum_type(Progress, "check_in_progress"))
    # {quality: 1..4} for each of `track_record.QUALITIES`.
    ratings: Mapped[dict[str, int]] = mapped_column(JSON)
    # `track_record.check_in_score` of the two above, kept so that the match index sums scores
    # in SQL rather than parse every engagement's ratings.
    score: Mapped[float] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Each partner's check-ins, each engagement's latest first: the order in which the match index
# takes the latest of each (`matching.repository._check_in_totals`), read without a sort.
Index(
    "ix_engagement_check_ins_latest",
    CheckIn.partner_id,
    CheckIn.engagement_id,
    CheckIn.held_on.desc(),
    CheckIn.created_at.desc(),
    CheckIn.id.desc(),
)
