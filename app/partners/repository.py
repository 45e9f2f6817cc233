"""Every partner query, scoped to what the caller may see."""

import functools
import re
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Dialect,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, joinedload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean, Text, TypeDecorator, TypeEngine

from app.auth.models import Role
from app.auth.principal import STATE_ROLES, Principal
from app.core.pagination import keyset
from app.partners.lifecycle import PartnerStatus
from app.partners.models import (
    DESIGNATED_STATUSES,
    Facet,
    Partner,
    PartnerEvidenceTier,
    PartnerFacet,
)
from app.partners.schemas import PartnerFilters, PartnerRecord

# Districts shop among partners the state has designated at some point; drafts and
# applications stay between the partner and the state.
DISTRICT_VISIBLE = (PartnerStatus.APPROVED, PartnerStatus.SUSPENDED, PartnerStatus.EXPIRED)


def _status_among(statuses: Collection[PartnerStatus]) -> ColumnElement[bool]:
    """``status IN (...)`` as equalities: an IN list is an "expanding" parameter, which
    SQLAlchemy splices into the SQL text again on every execution (2 % of a partner read)."""
    return or_(*(Partner.status == status for status in statuses))


# A partner renewing its designation is under_review but was designated all the same.
# Built once, as the scopes below: SQL expressions are immutable, and costly to build.
_DISTRICT_VISIBLE = or_(_status_among(DISTRICT_VISIBLE), Partner.approved_at.is_not(None))
# The scopes that follow from the caller's role alone.
_ROLE_SCOPES: dict[Role, ColumnElement[bool]] = {
    **dict.fromkeys(STATE_ROLES, true()),
    Role.DISTRICT: _DISTRICT_VISIBLE,
}


def _scope(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.PARTNER and principal.partner_id is not None:
        return Partner.id == principal.partner_id
    return _ROLE_SCOPES.get(principal.role, false())


def district_visible() -> ColumnElement[bool]:
    """The partners districts may see and match against: designated now or at some point."""
    return _DISTRICT_VISIBLE


def visible_ids(principal: Principal) -> Select[uuid.UUID]:
    """The ids of the partners the caller may see, for scoping what hangs off a partner."""
    return select(Partner.id).where(_scope(principal))


class _Strings(TypeDecorator[list[str]]):
    """A list of strings: a PostgreSQL array, or a JSON array on SQLite, which has none.

    Only ever read. psycopg parses a text array into a list itself; as ``ARRAY`` SQLAlchemy
    would copy every list again, item by item.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        strings = Text() if dialect.name == "postgresql" else JSON()
        return dialect.type_descriptor(strings)


class key_value_pairs(FunctionElement[list[str]]):  # noqa: N801 (SQL functions are lower case)
    """Aggregate ``(key, value)``: ``key:value`` strings, as ``Partner.facet_pairs`` and
    ``tier_pairs`` hold them (NULL over no rows on PostgreSQL)."""

    type = _Strings()
    inherit_cache = True


def _compiled_as(function: type[FunctionElement[Any]], **templates: str) -> None:
    """Compile ``function(a, b)`` on each dialect named by its template of ``{0}`` and ``{1}``."""
    for dialect, template in templates.items():

        def compile_on(
            element: FunctionElement[Any],
            compiler: SQLCompiler,
            template: str = template,
            **kw: Any,
        ) -> str:
            return template.format(*(compiler.process(clause, **kw) for clause in element.clauses))

        compiles(function, dialect)(compile_on)


_compiled_as(
    key_value_pairs,
    postgresql="array_agg({0} || ':' || {1})",
    sqlite="json_group_array({0} || ':' || {1})",
)


# Each partner's facets and tiers come in its own row, as the arrays its row keeps: a page of 50
# in one query, without ~600 child ORM objects or a subquery per partner, and the match index's
# load without a row per facet. Text arrays, because psycopg parses them in C: JSON pairs cost
# four times as much.
FACET_PAIRS = type_coerce(Partner.facet_pairs, _Strings())
TIER_PAIRS = type_coerce(Partner.tier_pairs, _Strings())
_RECORD_COLUMNS = (
    *(getattr(Partner, name) for name in PartnerRecord._fields[:-2]),
    FACET_PAIRS,
    TIER_PAIRS,
)


def facet_values(facet_pairs: Iterable[str]) -> dict[str, list[str]]:
    """Each facet's values from `FACET_PAIRS`, in the order of the pairs."""
    facets: dict[str, list[str]] = {}
    for pair in facet_pairs:
        # A facet's name holds no colon; a value may.
        facet, _, value = pair.partition(":")
        facets.setdefault(facet, []).append(value)
    return facets


def numbered(pairs: Iterable[str]) -> Iterator[tuple[str, int]]:
    """``key:number`` pairs split: `TIER_PAIRS`, or `key_value_pairs` of a number."""
    for pair in pairs:
        # A number holds no colon.
        key, _, number = pair.rpartition(":")
        yield key, int(number)


def _record(row: Sequence[Any]) -> PartnerRecord:
    *columns, facet_pairs, tier_pairs = row
    # Sorted in Python, as ever, whatever the database's collation; a facet's pairs share their
    # prefix, so sorting the pairs sorts each facet's values. NULL for none on PostgreSQL.
    facets = facet_values(sorted(facet_pairs or ()))
    evidence_tiers = dict(sorted(numbered(tier_pairs or ())))
    return PartnerRecord(*[*columns, facets, evidence_tiers])


async def records(
    session: AsyncSession, statement: Select[Any], values: dict[str, Any]
) -> list[PartnerRecord]:
    """The partners of a ``get_record``, ``list_page`` or ``directory_*`` statement.

    Read as plain rows on the session's connection: through the ORM, loading a page of 50
    cost half as much again as the query itself.
    """
    connection = await session.connection()
    return [_record(row) for row in await connection.execute(statement, values)]


async def get(session: AsyncSession, principal: Principal, partner_id: uuid.UUID) -> Partner | None:
    """The partner as an ORM object, for changing it."""
    # One round trip instead of three: for a single partner, joining its few facets and tiers
    # costs less than the two extra queries of selectinload.
    query = select(Partner).where(Partner.id == partner_id, _scope(principal))
    query = query.options(joinedload(Partner.facets), joinedload(Partner.evidence_tiers))
    return (await session.scalars(query)).unique().one_or_none()


def _record_by_id(scope: ColumnElement[bool]) -> Select[Any]:
    return select(*_RECORD_COLUMNS).where(Partner.id == bindparam("partner_id"), scope)


# Built once where the role alone decides the scope: generating a new statement's cache key
# costs about as much CPU as running the query.
_RECORD_BY_ID = {role: _record_by_id(scope) for role, scope in _ROLE_SCOPES.items()}


async def get_record(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> PartnerRecord | None:
    """The partner as a record, for reading it."""
    query = _RECORD_BY_ID.get(principal.role)
    if query is None:
        query = _record_by_id(_scope(principal))
    found = await records(session, query, {"partner_id": partner_id})
    return found[0] if found else None


# The facet filters: each a parameter named after its facet.
_FACET_FILTERS = (Facet.NEED_DOMAIN, Facet.REGION, Facet.GRADE_BAND, Facet.LOCALE)
_NEED_DOMAIN: BindParameter[str] = bindparam(Facet.NEED_DOMAIN.value)
# The filters whose values a list statement takes as parameters; status changes its shape.
_PARAMETER_FILTERS = (*(facet.value for facet in _FACET_FILTERS), "min_evidence_tier", "q")
# "Now" for status and designation rules: a parameter, so that one statement serves every
# request.
_MOMENT: BindParameter[datetime] = bindparam("moment")


class facet_pairs_hold(FunctionElement[bool]):  # noqa: N801 (SQL functions are lower case)
    """``facet_pairs_hold(pairs, pair, ...)``: the array ``pairs`` holds every ``pair`` given.

    On PostgreSQL ``@>``, which the GIN index on ``partners.facet_pairs`` answers; SQLite, the
    embedded database of one small registry, looks through each partner's JSON array.
    """

    type = Boolean()
    inherit_cache = True


@compiles(facet_pairs_hold, "postgresql")
def _facet_pairs_hold_postgresql(
    element: facet_pairs_hold, compiler: SQLCompiler, **kw: Any
) -> str:
    pairs, *wanted = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{pairs} @> ARRAY[{', '.join(wanted)}]::text[]"


@compiles(facet_pairs_hold, "sqlite")
def _facet_pairs_hold_sqlite(element: facet_pairs_hold, compiler: SQLCompiler, **kw: Any) -> str:
    # A partner holds each pair once (the primary key of partner_facets), so counting works.
    # Only compiled SQL is joined here: the pairs wanted are bound parameters.
    pairs, *wanted = (compiler.process(clause, **kw) for clause in element.clauses)
    held = f"json_each.value IN ({', '.join(wanted)})"
    return f"(SELECT count(*) FROM json_each({pairs}) WHERE {held}) = {len(wanted)}"  # noqa: S608


def _has_facets(facets: Collection[Facet]) -> ColumnElement[bool]:
    """The partner has the value given for each facet, a parameter named after the facet."""
    wanted = (
        literal_column(f"'{facet.value}:'", Text()) + bindparam(facet.value, type_=Text())
        for facet in facets
    )
    return facet_pairs_hold(Partner.facet_pairs, *wanted)


def _status_is(status: PartnerStatus) -> ColumnElement[bool]:
    """The status as people read it at ``moment``: an approval past its term is expired."""
    lapsed = and_(Partner.status == PartnerStatus.APPROVED, Partner.expires_at <= _MOMENT)
    if status is PartnerStatus.APPROVED:
        return and_(Partner.status == status, or_(Partner.expires_at.is_(None), ~lapsed))
    if status is PartnerStatus.EXPIRED:
        return or_(Partner.status == status, lapsed)
    return Partner.status == status


# The search text is lowered by the database, as the columns are: Python's lower() differs
# from either database's for some letters ("İ" becomes two characters, not one).
_LOWERED_Q = func.lower(bindparam("q"))


def _contains(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    return func.lower(column).like(_LOWERED_Q, escape="\\")


class holds_text(FunctionElement[bool]):  # noqa: N801 (SQL functions are lower case)
    """``holds_text(text, part)``: ``part`` occurs in ``text``, as a plain substring.

    For a search text with no trigram to look up (`_TRIGRAM`): on PostgreSQL a `LIKE` would go
    through the trigram index (migration 0009), whose every entry matches such a pattern, at
    twice the cost of reading the table; `strpos` reads the table.
    """

    type = Boolean()
    inherit_cache = True


_compiled_as(holds_text, postgresql="strpos({0}, {1}) > 0", sqlite="instr({0}, {1}) > 0")


# Three letters or digits in a row: pg_trgm takes its trigrams from such runs of a pattern.
# ASCII ones only, which are letters and digits in every locale: a text of others is matched
# by reading the table, whatever the index could have found.
_TRIGRAM = re.compile(r"[^\W_]{3}", re.ASCII)
# The shape of a search whose text has no trigram: ``q`` is then the text itself.
_Q_WITHOUT_TRIGRAM = "q_without_trigram"


def _holds(column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    return holds_text(func.lower(column), _LOWERED_Q)


# ``Partner.designated_on`` in SQL: change both together.
_DESIGNATION_ACTIVE = and_(
    _status_among(DESIGNATED_STATUSES),
    Partner.approved_at <= _MOMENT,
    Partner.expires_at > _MOMENT,
)


def _given(filters: PartnerFilters) -> frozenset[str]:
    """The filters given, by name; a search text with no trigram as `_Q_WITHOUT_TRIGRAM`."""
    values = {name: getattr(filters, name) for name in _PARAMETER_FILTERS}
    given = frozenset(name for name, value in values.items() if value not in (None, ""))
    if "q" in given and not _TRIGRAM.search(values["q"]):
        return given - {"q"} | {_Q_WITHOUT_TRIGRAM}
    return given


def _filtered(
    scope: ColumnElement[bool], given: frozenset[str], status: PartnerStatus | None
) -> Select[Any]:
    """The records within ``scope`` that pass the given filters, their values as parameters."""
    conditions = [scope]
    if facets := [facet for facet in _FACET_FILTERS if facet.value in given]:
        conditions.append(_has_facets(facets))
    if "min_evidence_tier" in given:
        strong_enough = [
            PartnerEvidenceTier.partner_id == Partner.id,
            PartnerEvidenceTier.tier <= bindparam("min_evidence_tier"),
        ]
        if _NEED_DOMAIN.key in given:
            strong_enough.append(PartnerEvidenceTier.need_domain == _NEED_DOMAIN)
        conditions.append(exists().where(*strong_enough))
    if status is not None:
        conditions.append(_status_is(status))
    if "q" in given:
        conditions.append(or_(_contains(Partner.name), _contains(Partner.description)))
    if _Q_WITHOUT_TRIGRAM in given:
        conditions.append(or_(_holds(Partner.name), _holds(Partner.description)))
    return select(*_RECORD_COLUMNS).where(*conditions)


def filter_values(filters: PartnerFilters, moment: datetime) -> dict[str, Any]:
    """The parameters of a ``list_page`` or ``directory_page`` statement for ``filters``."""
    given = _given(filters)
    values: dict[str, Any] = {name: getattr(filters, name) for name in given - {_Q_WITHOUT_TRIGRAM}}
    if "q" in values:
        text = values["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        values["q"] = f"%{text}%"
    if _Q_WITHOUT_TRIGRAM in given:
        values["q"] = filters.q
    return values | {"moment": moment}


ORDER = (Partner.name, Partner.id)


def _page(
    scope: ColumnElement[bool],
    given: frozenset[str],
    status: PartnerStatus | None,
    after_cursor: bool,
) -> Select[Any]:
    return keyset(_filtered(scope, given, status), ORDER, after_cursor=after_cursor)


# A list's statement depends on the caller's role, which filters are given and whether a
# cursor is: a few hundred shapes in practice. Building one and computing its cache key cost
# about a millisecond, a fifth of a list request.
_cached_page = functools.lru_cache(maxsize=1024)(_page)


def list_page(principal: Principal, filters: PartnerFilters, *, after_cursor: bool) -> Select[Any]:
    """A page of the partners the caller may see, sorted by name; the filters' values are
    parameters (``filter_values``)."""
    shape = (_given(filters), filters.status, after_cursor)
    role_scope = _ROLE_SCOPES.get(principal.role)
    if role_scope is None:
        return _page(_scope(principal), *shape)
    return _cached_page(role_scope, *shape)


def directory_page(filters: PartnerFilters, *, after_cursor: bool) -> Select[Any]:
    """A page of the public directory: no caller scope, only what is designated at
    ``moment``."""
    return _cached_page(_DESIGNATION_ACTIVE, _given(filters), filters.status, after_cursor)


def directory_query(filters: PartnerFilters) -> Select[Any]:
    """The whole public directory, sorted by name, with ``filter_values`` as parameters."""
    return _filtered(_DESIGNATION_ACTIVE, _given(filters), filters.status).order_by(*ORDER)


async def fill_pairs(session: AsyncSession) -> None:
    """For a bulk load that bypassed the triggers of ``Partner.facet_pairs`` and ``tier_pairs``:
    fill them all."""
    facets = select(key_value_pairs(PartnerFacet.facet, PartnerFacet.value))
    tiers = select(key_value_pairs(PartnerEvidenceTier.need_domain, PartnerEvidenceTier.tier))
    filling = update(Partner).values(
        facet_pairs=facets.where(PartnerFacet.partner_id == Partner.id).scalar_subquery(),
        tier_pairs=tiers.where(PartnerEvidenceTier.partner_id == Partner.id).scalar_subquery(),
    )
    await session.execute(filling.execution_options(synchronize_session=False))


async def lock(session: AsyncSession, partner_ids: Collection[uuid.UUID]) -> None:
    """Hold the partners' rows until commit, in id order so that two lockers cannot deadlock.

    For rules that read several rows hanging off a partner and then write: a second writer
    waits here and then sees the first one's committed rows. SQLite serialises writers anyway.
    """
    query = select(Partner.id).where(Partner.id.in_(partner_ids)).order_by(Partner.id)
    await session.execute(query.with_for_update())
