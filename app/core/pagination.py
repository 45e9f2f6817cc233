"""Keyset pagination with opaque cursors: stable order, no duplicates or gaps between pages."""

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Integer, Select, bindparam, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import InvalidInput

T = TypeVar("T")
Row = TypeVar("Row")

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
# A page may end on a 200-character name of 4-byte characters: with its id, a key of about
# 850 bytes of UTF-8, 1,150 characters of base64. Any cursor the server issues must come back.
MAX_CURSOR_LENGTH = 2048
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR_LENGTH,
        description="Opaque cursor from a previous page's `next_cursor`.",
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1


def _encodable(text: str) -> bool:
    # JSON admits lone surrogates, which no database driver can encode.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _invalid_cursor() -> InvalidInput:
    return InvalidInput(["query", "cursor"], "Not a cursor issued by this list.", "cursor_invalid")


def encode_cursor(key: Sequence[Any]) -> str:
    # Characters as UTF-8, not as \u escapes: up to 12 bytes each would overrun the limit.
    raw = json.dumps([str(part) for part in key], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, order: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    # RecursionError: JSON nested deeper than the parser goes fits in a cursor's 2,048 characters.
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _invalid_cursor() from None
    if not isinstance(parts, list) or len(parts) != len(order):
        raise _invalid_cursor()
    if not all(isinstance(part, str) and _encodable(part) for part in parts):
        raise _invalid_cursor()
    key: list[Any] = []
    for part, column in zip(parts, order, strict=True):
        python_type = column.type.python_type
        try:
            if python_type is datetime:
                moment = datetime.fromisoformat(part)
                # In UTC, as the database compares it: an offset can carry a time at either
                # end of the calendar out of its range.
                key.append(moment.astimezone(UTC) if moment.tzinfo else moment)
            elif python_type is date:
                key.append(date.fromisoformat(part))
            elif python_type is uuid.UUID:
                key.append(uuid.UUID(part))
            else:
                key.append(python_type(part))
        except (TypeError, ValueError, OverflowError):
            raise _invalid_cursor() from None
        if "\x00" in part or (isinstance(key[-1], datetime) and key[-1].tzinfo is None):
            raise _invalid_cursor()
        if isinstance(key[-1], int) and not INT4_MIN <= key[-1] <= INT4_MAX:
            raise _invalid_cursor()
    return key


PAGE_SIZE = "page_size"


def keyset(
    query: Select[Row], order: Sequence[InstrumentedAttribute[Any]], *, after_cursor: bool
) -> Select[Row]:
    """``query`` read a page at a time in ``order``, which must end in a unique column.

    The page size and a cursor's key are parameters (see ``read_page``), so one statement
    serves every page: a caller may build it once and skip SQLAlchemy's cache-key pass.
    """
    if after_cursor:
        bound = [
            bindparam(_key_part(index), type_=column.type) for index, column in enumerate(order)
        ]
        query = query.where(tuple_(*order) > tuple_(*bound))
    return query.order_by(*order).limit(bindparam(PAGE_SIZE, type_=Integer))


def _key_part(index: int) -> str:
    return f"cursor_{index}"


async def _entities(
    session: AsyncSession, statement: Select[Any], values: dict[str, Any]
) -> Sequence[Any]:
    return list(await session.scalars(statement, values))


Load = Callable[[AsyncSession, Select[Any], dict[str, Any]], Awaitable[Sequence[Any]]]


async def read_page(
    session: AsyncSession,
    statement: Select[Row],
    order: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int,
    params: Mapping[str, Any] | None = None,
    load: Load = _entities,
) -> tuple[list[Row], str | None]:
    """One page of a ``keyset`` statement, built with ``after_cursor`` set as ``cursor`` is,
    read by ``load`` (by default as the statement's first entity or column)."""
    values = {**(params or {}), PAGE_SIZE: limit + 1}
    if cursor is not None:
        key = _decode(cursor, order)
        values |= {_key_part(index): part for index, part in enumerate(key)}
    rows = list(await load(session, statement, values))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([getattr(last, column.key) for column in order])


async def paginate(
    session: AsyncSession,
    query: Select[Row],
    order: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int,
) -> tuple[list[Row], str | None]:
    """One page of ``query`` in ``order`` (which must end in a unique column)."""
    statement = keyset(query, order, after_cursor=cursor is not None)
    return await read_page(session, statement, order, cursor, limit)
