"""Rubrics, reviews, each reviewer's score sheet and the one decision a review ends with."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type, utcnow


class Rubric(IdMixin, Base):
    """Immutable once written: editing a rubric means adding the next version of its name."""

    __tablename__ = "rubrics"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        CheckConstraint("scale_min >= 0 AND scale_max > scale_min", name="scale_range"),
    )

    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    # [{code, name, description, weight, required}]: read whole, never queried inside.
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scale_min: Mapped[int] = mapped_column(Integer)
    scale_max: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def criterion(self, code: str) -> dict[str, Any] | None:
        return next((row for row in self.criteria if row["code"] == code), None)


class Review(IdMixin, Base):
    __tablename__ = "reviews"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    rubric_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rubrics.id"))
    # No foreign key to users: the seed's system actor opens reviews too, as in the audit trail.
    opened_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rubric: Mapped[Rubric] = relationship(lazy="raise")
    sheets: Mapped[list["ScoreSheet"]] = relationship(
        lazy="raise", order_by="ScoreSheet.created_at"
    )
    decision: Mapped["ReviewDecision | None"] = relationship(lazy="raise")


class ScoreSheet(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One reviewer's conflict-of-interest statement and scores for one review."""

    __tablename__ = "score_sheets"
    __table_args__ = (UniqueConstraint("review_id", "reviewer_id"),)

    # The unique (review_id, reviewer_id) index serves lookups by review as well.
    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reviews.id"))
    reviewer_id: Mapped[uuid.UUID]
    conflict_declared: Mapped[bool] = mapped_column(Boolean, default=False)
    conflict_statement: Mapped[str] = mapped_column(Text, default="")

    scores: Mapped[list["Score"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Score.criterion"
    )


class Score(Base):
    __tablename__ = "scores"

    sheet_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("score_sheets.id", ondelete="CASCADE"), primary_key=True
    )
    criterion: Mapped[str] = mapped_column(String(63), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")


class ReviewDecisionKind(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    DENY = "deny"
    DEFER = "defer"


APPROVING = frozenset({ReviewDecisionKind.APPROVE, ReviewDecisionKind.APPROVE_WITH_CONDITIONS})


class ReviewDecision(Base):
    """At most one per review: the primary key is the review, so a second decider fails."""

    __tablename__ = "review_decisions"

    review_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reviews.id"), primary_key=True)
    decision: Mapped[ReviewDecisionKind] = mapped_column(enum_type(ReviewDecisionKind, "decision"))
    term_months: Mapped[int | None] = mapped_column(Integer)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    rationale: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID]
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
