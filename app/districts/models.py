from enum import StrEnum

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, IdMixin, TimestampMixin, VersionedMixin, enum_type
from app.core.vocabulary import Locale


class AccountabilityStatus(StrEnum):
    """ESSA school-improvement designations, district-wide summary."""

    NONE = "none"
    TSI = "tsi"
    ATSI = "atsi"
    CSI = "csi"


class District(IdMixin, TimestampMixin, VersionedMixin, Base):
    __tablename__ = "districts"

    name: Mapped[str] = mapped_column(String(200))
    nces_id: Mapped[str] = mapped_column(String(7), unique=True)
    region: Mapped[str] = mapped_column(String(63), index=True)
    locale: Mapped[Locale] = mapped_column(enum_type(Locale, "locale"))
    enrollment: Mapped[int] = mapped_column(Integer)
    accountability_status: Mapped[AccountabilityStatus] = mapped_column(
        enum_type(AccountabilityStatus, "accountability_status")
    )
