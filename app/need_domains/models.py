from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.base import Base, TimestampMixin


class NeedDomain(TimestampMixin, Base):
    """One entry of the shared, state-editable taxonomy of needs and services."""

    __tablename__ = "need_domains"

    code: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    parent: Mapped[str | None] = mapped_column(ForeignKey("need_domains.code"))
