"""Partner reads answer with `partner_view`'s plain values, not validated models: the values
must be exactly what the response model holds, so that the JSON is the model's JSON."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pydantic_core
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from app.auth.models import Role
from app.auth.principal import Principal
from app.core.pagination import Page
from app.core.responses import page_response
from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.directory.router import _entry
from app.directory.schemas import DirectoryEntry
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet
from app.partners.schemas import PartnerRead, PartnerRecord, partner_view

# Any text a column may hold: lone surrogates cannot be stored as UTF-8.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
# As each database hands them back: psycopg with the zone's name, SQLite's column with UTC.
zones = st.sampled_from([UTC, ZoneInfo("UTC"), ZoneInfo("Etc/UTC")])
moments = st.builds(
    lambda day, zone: day.replace(tzinfo=zone),
    st.datetimes(datetime(2000, 1, 1), datetime(2999, 1, 1)),
    zones,
)
contacts = st.fixed_dictionaries(
    {
        "name": texts,
        "title": st.none() | texts,
        "email": st.none() | st.emails(),
        "phone": st.none() | st.from_regex(r"\+1 [0-9]{3} [0-9]{3} [0-9]{4}", fullmatch=True),
        "private": st.booleans(),
    }
)


def values_of(vocabulary: type[object]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from([str(value) for value in vocabulary]), unique=True)  # type: ignore[attr-defined]


@st.composite
def records(draw: st.DrawFn) -> PartnerRecord:
    approved_at = draw(st.none() | moments)
    expires_at = None
    if approved_at is not None:
        expires_at = approved_at + timedelta(days=draw(st.integers(1, 2000)))
    return PartnerRecord(
        id=draw(st.uuids()),
        name=draw(texts),
        description=draw(texts),
        website=draw(st.none() | st.just("https://partner.example.org")),
        capacity=draw(st.integers(0, 100_000)),
        cost_min=draw(st.integers(0, 1_000)),
        cost_max=draw(st.integers(1_000, 100_000_000)),
        status=draw(st.sampled_from(PartnerStatus)),
        status_reason=draw(st.none() | texts),
        approved_at=approved_at,
        expires_at=expires_at,
        notes=draw(texts),
        contacts=draw(st.lists(contacts, max_size=3)),
        version=draw(st.integers(1, 10_000)),
        created_at=draw(moments),
        updated_at=draw(moments),
        facets={
            Facet.NEED_DOMAIN: draw(st.lists(st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True))),
            Facet.GRADE_BAND: draw(values_of(GradeBand)),
            Facet.LOCALE: draw(values_of(Locale)),
            Facet.REGION: draw(
                st.lists(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True))
            ),
            Facet.DELIVERY_MODE: draw(values_of(DeliveryMode)),
        },
        evidence_tiers=draw(
            st.dictionaries(st.sampled_from(["literacy", "staffing"]), st.integers(1, 4))
        ),
    )


@st.composite
def callers(draw: st.DrawFn, record_id: uuid.UUID) -> Principal:
    role = draw(st.sampled_from(Role))
    own = draw(st.booleans())
    return Principal(
        user_id=uuid.uuid4(),
        role=role,
        district_id=uuid.uuid4() if role is Role.DISTRICT else None,
        partner_id=(record_id if own else uuid.uuid4()) if role is Role.PARTNER else None,
    )


PAGE = TypeAdapter(Page[PartnerRead])


@given(data=st.data(), partners=st.lists(records(), min_size=1, max_size=3), moment=moments)
def test_a_page_of_views_is_written_as_the_page_of_models(
    data: st.DataObject, partners: list[PartnerRecord], moment: datetime
) -> None:
    caller = data.draw(callers(partners[0].id))
    views = [partner_view(partner, caller, moment) for partner in partners]
    models = [PartnerRead.model_validate(view) for view in views]
    cursor = data.draw(st.none() | st.just("b3BhcXVl"))

    assert page_response(views, cursor).body == PAGE.dump_json(
        Page(items=models, next_cursor=cursor)
    )
    # Round trip: what the client reads back is the model, field for field.
    assert PartnerRead.model_validate_json(pydantic_core.to_json(views[0])) == models[0]


@given(partner=records(), moment=moments)
def test_a_directory_entry_is_written_as_its_model_and_holds_only_public_fields(
    partner: PartnerRecord, moment: datetime
) -> None:
    entry = _entry(partner, moment)
    if partner.approved_at is not None:  # the directory lists designated partners only
        assert (
            pydantic_core.to_json(entry)
            == DirectoryEntry.model_validate(entry).model_dump_json().encode()
        )
    assert list(entry) == list(DirectoryEntry.model_fields)
    assert all(not contact["private"] for contact in entry["contacts"])


def test_a_contact_is_written_with_the_fields_of_a_contact_only() -> None:
    now = datetime.now(UTC)
    record = PartnerRecord(
        id=uuid.uuid4(),
        name="Partner",
        description="",
        website=None,
        capacity=1,
        cost_min=0,
        cost_max=1,
        status=PartnerStatus.DRAFT,
        status_reason=None,
        approved_at=None,
        expires_at=None,
        notes="",
        # A key no contact has: written before some change of the model, say.
        contacts=[{"private": False, "name": "Ana", "email": "ana@example.org", "legacy": 1}],
        version=1,
        created_at=now,
        updated_at=now,
        facets={},
        evidence_tiers={},
    )
    caller = Principal(user_id=uuid.uuid4(), role=Role.STATE_ADMIN)

    assert partner_view(record, caller, now)["contacts"] == [
        {"name": "Ana", "title": None, "email": "ana@example.org", "phone": None, "private": False}
    ]
