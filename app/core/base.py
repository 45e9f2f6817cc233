"""Declarative base, naming convention and the column types every table shares."""

import uuid
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import DateTime, Dialect, Enum, Insert, Integer, MetaData, Table, Uuid, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def moment_of(as_of: date | None) -> datetime:
    """Now, or the last instant of ``as_of`` (UTC): listed means still designated as it ends."""
    if as_of is None:
        return utcnow()
    return datetime.combine(as_of + timedelta(days=1), time.min, UTC) - timedelta(microseconds=1)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, whatever the database keeps.

    SQLite has no time zones, so values are stored as naive UTC there and made aware on load;
    PostgreSQL stores ``timestamptz``, and psycopg returns it in the session's time zone, which
    every connection sets to UTC (``app.core.db``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name == "postgresql":
            return None  # already aware and UTC: a conversion per value, 4 per partner read

        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, uuid.UUID: Uuid}


def table_insert(model: type[Base]) -> Insert:
    """An INSERT on ``model``'s table, for rows nothing reads back in the request that writes
    them: the entity's ORM-enabled INSERT, or an object and a flush, costs half again as much
    or more. (Declarative mappings type ``__table__`` loosely, hence the cast.)"""
    return insert(cast(Table, model.__table__))


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionedMixin:
    """An integer ``version`` bumped on every update; SQLAlchemy refuses a stale write."""

    version: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        return {"version_id_col": cls.version}


def enum_type(enum_class: type[StrEnum], name: str) -> Enum:
    """A portable enum column: stored as its value, guarded by a named CHECK constraint."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )
