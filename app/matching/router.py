import uuid

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from app.auth.dependencies import SettingsDep
from app.core.db import SessionDep
from app.core.errors import NotFound, problem_responses
from app.core.pagination import Cursor, Limit, Page, paginate
from app.idempotency.service import IdempotencyDep
from app.matching import repository, service
from app.matching.index import MatchIndexDep
from app.matching.models import Match
from app.matching.schemas import MatchCreate, MatchRead, MatchSummary
from app.needs.dependencies import StaffOrDistrict

router = APIRouter(prefix="/matches", tags=["matches"])


class MatchNotFound(NotFound):
    title = "Match not found"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MatchRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def create_match(
    body: MatchCreate,
    principal: StaffOrDistrict,
    session: SessionDep,
    settings: SettingsDep,
    index: MatchIndexDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Rank the designated partners for a needs profile, with the reasons for every place.

    Send `needs_id`, or `district_id` with the profile's fields inline. The match is stored
    with what it was computed from; `GET /v1/matches/{id}` serves it back unchanged.
    """

    async def create() -> tuple[MatchRead, str]:
        match = await service.create(session, principal, settings, index, body)
        return match, f"/v1/matches/{match.id}"

    return await idempotency.run(body, create)


@router.get("", responses=problem_responses(401, 403, 422))
async def list_matches(
    principal: StaffOrDistrict,
    session: SessionDep,
    district_id: uuid.UUID | None = None,
    needs_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MatchSummary]:
    """Stored matches, oldest first: a district's own, or every district's for state staff;
    `needs_id` keeps those of one stored needs profile."""
    matches, next_cursor = await paginate(
        session,
        repository.list_query(principal, district_id, needs_id),
        [Match.created_at, Match.id],
        cursor,
        limit,
    )
    return Page(
        items=[MatchSummary.model_validate(match) for match in matches], next_cursor=next_cursor
    )


@router.get("/{match_id}", response_model=MatchRead, responses=problem_responses(401, 403, 404))
async def read_match(
    match_id: uuid.UUID, principal: StaffOrDistrict, session: SessionDep
) -> Response:
    """The match exactly as it was answered when it was created."""
    match = await repository.get(session, principal, match_id)
    if match is None:
        raise MatchNotFound(f"No match {match_id}.")
    return JSONResponse(match.response)
