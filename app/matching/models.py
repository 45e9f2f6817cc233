import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, utcnow


class Match(IdMixin, Base):
    """A computed match, kept with what it was computed from and served back unchanged.

    Never updated: a stored match is a record of what the district was told on that day.
    """

    __tablename__ = "matches"
    __table_args__ = (
        Index("ix_matches_district", "district_id", "created_at", "id"),
        Index("ix_matches_needs", "needs_id", "created_at", "id"),
        Index("ix_matches_created", "created_at", "id"),
    )

    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("districts.id"))
    needs_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("needs_profiles.id"))
    # No foreign key to users, as for reviews: the system actor may run matches too.
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    as_of: Mapped[date] = mapped_column(Date)
    # The needs profile as it was (a profile changes later; an inline one exists nowhere else),
    # with the district's region and locale and the limit.
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    # Deferred: lists show the summary columns and never need the (large) body. Compressed
    # with lz4 where PostgreSQL has it (migration 0008).
    response: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True, deferred_raiseload=True)


class PartnerChangeCounter(Base):
    """One row: the last version handed to a partner change (see `PartnerChange`)."""

    __tablename__ = "partner_change_counter"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class PartnerChange(Base):
    """The last change to anything a match reads about a partner, in commit order.

    Written only by the triggers of migration 0006, never by the application: whatever the
    write path, a committed change to a partner, its facets, evidence, reviews or engagements
    shows up here before anyone can read it.
    """

    __tablename__ = "partner_changes"
    __table_args__ = (Index("ix_partner_changes_version", "version"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
