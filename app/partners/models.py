import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type
from app.partners.lifecycle import PartnerStatus

DESIGNATED_STATUSES = (PartnerStatus.APPROVED, PartnerStatus.UNDER_REVIEW)
_PAIRS = JSON().with_variant(ARRAY(Text()), "postgresql")


class Facet(StrEnum):
    """The multi-valued attributes of a partner that lists filter on."""

    NEED_DOMAIN = "need_domain"
    GRADE_BAND = "grade_band"
    LOCALE = "locale"
    REGION = "region"
    DELIVERY_MODE = "delivery_mode"


class Partner(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("cost_min >= 0 AND cost_max >= cost_min", name="cost_range"),
        CheckConstraint(
            "(approved_at IS NULL) = (expires_at IS NULL)", name="designation_complete"
        ),
        Index(
            "ix_partners_facet_pairs",
            "facet_pairs",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
        ),
        # Text search (`?q=`): each column's trigrams, lowered as the search lowers it.
        # PostgreSQL only, where pg_trgm can be installed (migration 0009); SQLite cannot
        # reflect an index on an expression, so comparing the models with it skips these.
        *(
            Index(
                f"ix_partners_{column}_trigrams",
                func.lower(literal_column(column)).label(column),
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
            for column in ("name", "description")
        ),
    )

    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int] = mapped_column(Integer)
    cost_min: Mapped[int] = mapped_column(Integer)
    cost_max: Mapped[int] = mapped_column(Integer)
    status: Mapped[PartnerStatus] = mapped_column(
        enum_type(PartnerStatus, "partner_status"), default=PartnerStatus.DRAFT, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    # `schemas.Contact` dicts. The default fills rows older than the column.
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # `facets` and `evidence_tiers` again, as `key:value` strings in no order, for reads and
    # list filters. Kept by triggers (migration 0007), never written here; deferred, so that
    # no loaded object holds a copy that a change to the rows would leave behind.
    facet_pairs: Mapped[list[str] | None] = mapped_column(_PAIRS, deferred=True)
    tier_pairs: Mapped[list[str] | None] = mapped_column(_PAIRS, deferred=True)

    facets: Mapped[list["PartnerFacet"]] = relationship(lazy="raise", cascade="all, delete-orphan")
    evidence_tiers: Mapped[list["PartnerEvidenceTier"]] = relationship(
        lazy="raise", order_by="PartnerEvidenceTier.need_domain"
    )

    def values(self, facet: Facet) -> list[str]:
        return sorted(row.value for row in self.facets if row.facet is facet)

    def status_on(self, moment: datetime) -> PartnerStatus:
        return status_on(self.status, self.expires_at, moment)

    def designated_on(self, moment: datetime) -> bool:
        """Approved, or renewing a term that still runs, and in term on ``moment``.

        Suspended, withdrawn and denied partners are out whatever their dates say. The same
        rule in SQL is ``partners.repository._DESIGNATION_ACTIVE``, and as a term for the match
        index ``matching.index._term``: change them together.
        """
        return (
            self.status in DESIGNATED_STATUSES
            and self.approved_at is not None
            and self.expires_at is not None
            and self.approved_at <= moment < self.expires_at
        )


def status_on(
    status: PartnerStatus, expires_at: datetime | None, moment: datetime
) -> PartnerStatus:
    """The status as people read it on ``moment``: designations lapse by the calendar alone,
    with no job to run for it."""
    if status is PartnerStatus.APPROVED and expires_at is not None and expires_at <= moment:
        return PartnerStatus.EXPIRED
    return status


class PartnerFacet(Base):
    __tablename__ = "partner_facets"
    __table_args__ = (Index("ix_partner_facets_lookup", "facet", "value", "partner_id"),)

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    facet: Mapped[Facet] = mapped_column(enum_type(Facet, "facet"), primary_key=True)
    value: Mapped[str] = mapped_column(String(63), primary_key=True)


class PartnerEvidenceTier(Base):
    """A partner's strongest accepted tier per need domain, kept current by evidence decisions."""

    __tablename__ = "partner_evidence_tiers"
    __table_args__ = (
        CheckConstraint("tier BETWEEN 1 AND 4", name="tier_range"),
        Index("ix_partner_evidence_tiers_lookup", "need_domain", "tier", "partner_id"),
    )

    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    need_domain: Mapped[str] = mapped_column(ForeignKey("need_domains.code"), primary_key=True)
    tier: Mapped[int] = mapped_column(Integer)
