"""A filtered list's statement is built once per shape; the filters' values are parameters."""

import uuid

from sqlalchemy.dialects import sqlite

from app.auth.models import Role
from app.auth.principal import Principal
from app.partners import repository
from app.partners.lifecycle import PartnerStatus
from app.partners.schemas import PartnerFilters

SQLITE = sqlite.dialect()
DISTRICT = Principal(user_id=uuid.uuid4(), role=Role.DISTRICT, district_id=uuid.uuid4())
PARTNER = Principal(user_id=uuid.uuid4(), role=Role.PARTNER, partner_id=uuid.uuid4())


def test_same_filters_with_other_values_share_one_statement() -> None:
    first = PartnerFilters(region="tx-1", need_domain="literacy", q="tutor")
    second = PartnerFilters(region="ca-5", need_domain="staffing", q="coach")
    statement = repository.list_page(DISTRICT, first, after_cursor=False)
    assert repository.list_page(DISTRICT, second, after_cursor=False) is statement
    assert repository.directory_page(first, after_cursor=False) is repository.directory_page(
        second, after_cursor=False
    )


def test_another_shape_is_another_statement() -> None:
    base = PartnerFilters(region="tx-1")
    statement = repository.list_page(DISTRICT, base, after_cursor=False)
    others = [
        repository.list_page(DISTRICT, base, after_cursor=True),
        repository.list_page(
            DISTRICT, PartnerFilters(region="tx-1", locale="city"), after_cursor=False
        ),
        repository.list_page(
            DISTRICT,
            PartnerFilters(region="tx-1", status=PartnerStatus.EXPIRED),
            after_cursor=False,
        ),
        repository.directory_page(base, after_cursor=False),
    ]
    assert all(other is not statement for other in others)
    # An empty search is no search, as the list has always read it.
    assert (
        repository.list_page(DISTRICT, PartnerFilters(region="x", q=""), after_cursor=False)
        is statement
    )


def test_values_are_parameters_not_sql() -> None:
    filters = PartnerFilters(region="tx-1", min_evidence_tier=2, q="100%_")
    values = repository.filter_values(filters, moment=None)  # type: ignore[arg-type]
    assert values == {
        "region": "tx-1",
        "min_evidence_tier": 2,
        "q": "%100\\%\\_%",
        "moment": None,
    }
    sql = str(repository.list_page(DISTRICT, filters, after_cursor=False).compile(dialect=SQLITE))
    assert "tx-1" not in sql
    assert "100" not in sql


def test_a_search_text_with_no_trigram_is_a_substring_of_its_own_shape() -> None:
    trigram = PartnerFilters(region="tx-1", q="tutor")
    short = PartnerFilters(region="tx-1", q="A%")
    statement = repository.list_page(DISTRICT, short, after_cursor=False)
    assert statement is not repository.list_page(DISTRICT, trigram, after_cursor=False)
    assert repository.filter_values(short, moment=None)["q"] == "A%"  # type: ignore[arg-type]
    sql = str(statement.compile(dialect=SQLITE))
    assert "instr(lower(partners.name), lower(?)) > 0" in sql
    assert " LIKE " not in sql
    accented = PartnerFilters(region="tx-1", q="éco")
    assert repository.list_page(DISTRICT, accented, after_cursor=False) is statement


def test_a_partner_callers_scope_is_its_own() -> None:
    filters = PartnerFilters(region="tx-1")
    statement = repository.list_page(PARTNER, filters, after_cursor=False)
    assert statement is not repository.list_page(DISTRICT, filters, after_cursor=False)
    other = Principal(user_id=uuid.uuid4(), role=Role.PARTNER, partner_id=uuid.uuid4())
    theirs = repository.list_page(other, filters, after_cursor=False)
    assert statement.compile(dialect=SQLITE).params != theirs.compile(dialect=SQLITE).params
