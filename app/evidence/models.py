import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type, utcnow
from app.evidence.classifier import Design, Direction, StandardsRating


class EvidenceStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    REJECTED = "rejected"


class EvidenceDecisionKind(StrEnum):
    ACCEPT = "accept"
    RETURN = "return"
    REJECT = "reject"


class Evidence(IdMixin, TimestampMixin, VersionedMixin, Base):
    """One study submitted in support of a partner, with its classification and review state."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("sample_size >= 0", name="sample_size_not_negative"),
        CheckConstraint("site_count >= 0", name="site_count_not_negative"),
        CheckConstraint("computed_tier BETWEEN 1 AND 4", name="computed_tier_range"),
        CheckConstraint("final_tier BETWEEN 1 AND 4", name="final_tier_range"),
        # NULLs never collide, so only imported records are held to one row per source id.
        UniqueConstraint("source", "external_id"),
        Index("ix_evidence_partner", "partner_id", "created_at", "id"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    status: Mapped[EvidenceStatus] = mapped_column(
        enum_type(EvidenceStatus, "evidence_status"), default=EvidenceStatus.SUBMITTED, index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    citation: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(1000))
    design: Mapped[Design] = mapped_column(enum_type(Design, "evidence_design"))
    standards_rating: Mapped[StandardsRating] = mapped_column(
        enum_type(StandardsRating, "standards_rating")
    )
    controls_for_selection_bias: Mapped[bool]
    sample_size: Mapped[int | None] = mapped_column(Integer)
    site_count: Mapped[int | None] = mapped_column(Integer)
    grade_bands: Mapped[list[str]] = mapped_column(JSON, default=list)
    locales: Mapped[list[str]] = mapped_column(JSON, default=list)
    student_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    has_logic_model: Mapped[bool]
    research_basis: Mapped[bool]
    ongoing_evaluation: Mapped[bool]

    classification: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_tier: Mapped[int | None] = mapped_column(Integer)
    final_tier: Mapped[int | None] = mapped_column(Integer)
    submitted_by: Mapped[uuid.UUID | None]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(200))

    document_sha256: Mapped[str | None] = mapped_column(String(64))
    document_size: Mapped[int | None] = mapped_column(Integer)
    document_uploaded_at: Mapped[datetime | None]

    findings: Mapped[list["EvidenceFinding"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="EvidenceFinding.position"
    )
    decisions: Mapped[list["EvidenceDecision"]] = relationship(
        lazy="raise", order_by="EvidenceDecision.decided_at"
    )


class EvidenceFinding(IdMixin, Base):
    __tablename__ = "evidence_findings"
    __table_args__ = (
        UniqueConstraint("evidence_id", "position"),
        CheckConstraint("tier BETWEEN 1 AND 4", name="tier_range"),
    )

    evidence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    need_domain: Mapped[str] = mapped_column(ForeignKey("need_domains.code"), index=True)
    outcome: Mapped[str] = mapped_column(String(500))
    direction: Mapped[Direction] = mapped_column(enum_type(Direction, "finding_direction"))
    significant: Mapped[bool]
    effect_size: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int | None] = mapped_column(Integer)
    subgroup: Mapped[bool] = mapped_column(default=False)
    external_id: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class EvidenceDecision(IdMixin, Base):
    """A reviewer's decision on one version of a record: history is never overwritten."""

    __tablename__ = "evidence_decisions"
    __table_args__ = (
        CheckConstraint("computed_tier BETWEEN 1 AND 4", name="computed_tier_range"),
        CheckConstraint("final_tier BETWEEN 1 AND 4", name="final_tier_range"),
    )

    evidence_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evidence.id", ondelete="CASCADE"), index=True
    )
    evidence_version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[EvidenceDecisionKind] = mapped_column(
        enum_type(EvidenceDecisionKind, "evidence_decision")
    )
    computed_tier: Mapped[int | None] = mapped_column(Integer)
    final_tier: Mapped[int | None] = mapped_column(Integer)
    rationale: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str] = mapped_column(Text, default="")
    # The study as decided, so a later correction never rewrites what was reviewed.
    study: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportedPartner(Base):
    """The partner created for an external source's entity (a WWC intervention), so re-imports
    attach to it instead of creating a twin."""

    __tablename__ = "imported_partners"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
