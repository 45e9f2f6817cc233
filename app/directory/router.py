"""The public directory: no authentication, public fields only."""

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from app.auth.models import Role
from app.auth.principal import Principal
from app.core.base import moment_of
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Cursor, Limit, Page, read_page
from app.core.responses import page_response
from app.core.schemas import CALENDAR_DAY, DAY_PATTERN, FIRST_DAY, LAST_DAY
from app.directory.export import to_csv
from app.directory.schemas import DirectoryEntry
from app.partners import repository
from app.partners.dependencies import PartnerFiltersDep
from app.partners.schemas import PartnerRecord, partner_view

router = APIRouter(prefix="/directory", tags=["directory"])

CSV = "text/csv"
# partner_view shows staff notes to state staff only; the public reads as nobody in particular.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV: {"schema": {"type": "string"}}},
        "description": "JSON one page at a time, or with `Accept: text/csv` every page at once.",
    }
}
PUBLIC = Principal(user_id=uuid.UUID(int=0), role=Role.DISTRICT)


# The media ranges JSON, the default, answers to.
JSON_RANGES = frozenset({"application/json", "application/*", "*/*"})
# The representation depends on Accept, which caches must know.
VARY = {"Vary": "Accept"}


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def _wants_csv(accept: str | None) -> bool:
    """CSV when the client asks for it at least as much as for JSON (RFC 9110, 12.5.1):
    `q=0` refuses it, and `application/json, text/csv;q=0.1` prefers JSON."""
    csv = json = 0.0
    for part in (accept or "").split(","):
        media_range, *parameters = part.split(";")
        media_range = media_range.strip().lower()
        if media_range == CSV:
            csv = max(csv, _quality(parameters))
        elif media_range in JSON_RANGES:
            json = max(json, _quality(parameters))
    return csv > 0 and csv >= json


PUBLIC_FIELDS = tuple(DirectoryEntry.model_fields)


def _entry(partner: PartnerRecord, moment: datetime) -> dict[str, Any]:
    """A `DirectoryEntry`'s values: the public fields only, whatever the partner has."""
    view = partner_view(partner, PUBLIC, moment)
    return {field: view[field] for field in PUBLIC_FIELDS}


@router.get(
    "",
    response_model=Page[DirectoryEntry],
    responses=CSV_RESPONSE | problem_responses(422),
)
async def read_directory(
    session: SessionDep,
    filters: PartnerFiltersDep,
    as_of: Annotated[
        date | None,
        Query(
            ge=FIRST_DAY,
            le=LAST_DAY,
            json_schema_extra={"pattern": DAY_PATTERN},
            description="Designated through the end of this day (UTC); default: now.",
        ),
        CALENDAR_DAY,
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    # Content negotiation is documented by the 200's media types; OpenAPI ignores an Accept
    # parameter (and schemathesis does not send one), so it is not listed as one.
    accept: Annotated[str | None, Header(max_length=1000, include_in_schema=False)] = None,
) -> Response:
    """Partners whose designation is active, sorted by name; anyone may read it."""
    moment = moment_of(as_of)
    values = repository.filter_values(filters, moment)
    if _wants_csv(accept):
        partners = await repository.records(session, repository.directory_query(filters), values)
        day = (as_of or moment.date()).isoformat()
        return Response(
            to_csv(DirectoryEntry.model_validate(_entry(partner, moment)) for partner in partners),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="directory-{day}.csv"'} | VARY,
        )
    partners_page, next_cursor = await read_page(
        session,
        repository.directory_page(filters, after_cursor=cursor is not None),
        repository.ORDER,
        cursor,
        limit,
        values,
        repository.records,
    )
    return page_response(
        [_entry(partner, moment) for partner in partners_page], next_cursor, headers=VARY
    )
