import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import (
    CurrentPrincipal,
    SettingsDep,
    StaffOrPartner,
    StateAdmin,
    StateStaff,
)
from app.auth.principal import Principal
from app.core.db import SessionDep
from app.core.errors import problem_responses, render
from app.core.etag import IfMatchToReplace, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, paginate
from app.core.schemas import ShortText
from app.engagements import repository as engagements
from app.idempotency.service import IdempotencyDep
from app.partners import repository as partners
from app.partners.dependencies import PartnerNotFound, VisiblePartner
from app.reviews import repository, service
from app.reviews.dependencies import SheetNotFound, ValidRubric, VisibleReview
from app.reviews.models import Review, Rubric
from app.reviews.schemas import (
    DecisionCreate,
    PartnerFacts,
    PartnerReviewRead,
    ReviewCreate,
    ReviewRead,
    RubricCreate,
    RubricRead,
    ScoresPut,
    SheetRead,
    TrackRecordRead,
    partner_review_read,
    review_read,
    rubric_read,
    sheet_read,
)

router = APIRouter(tags=["due diligence"])

READ_ERRORS = problem_responses(401, 403, 404, 422)


async def _facts(session: AsyncSession, partner_id: uuid.UUID) -> PartnerFacts:
    """The tiers and track record state staff weigh for the evidence and track-record criteria."""
    value, engagements_rated = await engagements.track_record_of(session, partner_id)
    return PartnerFacts(
        evidence_tiers=await repository.evidence_tiers(session, partner_id),
        track_record=TrackRecordRead(value=value, engagements=engagements_rated),
    )


async def _partner_facts(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> PartnerFacts | None:
    """State staff's facts of the partner; others never see them here."""
    return await _facts(session, partner_id) if principal.is_state_staff else None


def _view(
    principal: Principal, review: Review, facts: PartnerFacts | None
) -> ReviewRead | PartnerReviewRead:
    """State staff see everything; the reviewed partner sees the decision, never the scores."""
    if facts is None:
        return partner_review_read(review)
    return review_read(review, service.summary(review), facts)


@router.get("/rubrics", responses=problem_responses(401, 422))
async def list_rubrics(
    session: SessionDep,
    _principal: CurrentPrincipal,
    name: Annotated[ShortText | None, Query(description="Every version of this rubric.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RubricRead]:
    """Published rubrics, by name and version."""
    rubrics, next_cursor = await paginate(
        session,
        repository.rubrics_query(name),
        [Rubric.name, Rubric.version, Rubric.id],
        cursor,
        limit,
    )
    return Page(items=[rubric_read(rubric) for rubric in rubrics], next_cursor=next_cursor)


@router.post(
    "/rubrics",
    status_code=status.HTTP_201_CREATED,
    response_model=RubricRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_rubric(
    body: RubricCreate, session: SessionDep, admin: StateAdmin, idempotency: IdempotencyDep
) -> Response:
    """Publish a rubric; reusing a name publishes its next version (reviews keep theirs)."""

    async def create() -> tuple[RubricRead, str]:
        rubric = await service.create_rubric(session, admin, body)
        return rubric_read(rubric), f"/v1/rubrics/{rubric.id}"

    return await idempotency.run(body, create)


@router.get("/rubrics/{rubric_id}", responses=problem_responses(401, 404, 422))
async def read_rubric(rubric: ValidRubric) -> RubricRead:
    return rubric_read(rubric)


@router.post(
    "/partners/{partner_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def open_review(
    staff: StateStaff,
    body: ReviewCreate,
    partner: VisiblePartner,
    session: SessionDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Open a due-diligence review of a partner in `under_review`."""

    async def create() -> tuple[ReviewRead, str]:
        review = await service.open_review(session, staff, partner, body)
        view = review_read(review, service.summary(review), await _facts(session, partner.id))
        return view, f"/v1/reviews/{review.id}"

    return await idempotency.run(body, create)


@router.get("/partners/{partner_id}/reviews", responses=READ_ERRORS)
async def list_partner_reviews(
    principal: StaffOrPartner,
    partner: VisiblePartner,
    session: SessionDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ReviewRead | PartnerReviewRead]:
    """The partner's reviews, oldest first; partners see decisions and conditions only."""
    reviews, next_cursor = await paginate(
        session,
        repository.for_partner(principal, partner.id),
        [Review.created_at, Review.id],
        cursor,
        limit,
    )
    # Every review on the page is of this one partner: its facts are read once.
    facts = await _partner_facts(session, principal, partner.id)
    items = [_view(principal, review, facts) for review in reviews]
    return Page(items=items, next_cursor=next_cursor)


@router.get("/reviews/{review_id}", responses=READ_ERRORS)
async def read_review(
    principal: StaffOrPartner, review: VisibleReview, session: SessionDep
) -> ReviewRead | PartnerReviewRead:
    return _view(principal, review, await _partner_facts(session, principal, review.partner_id))


@router.get("/reviews/{review_id}/scores", responses=READ_ERRORS)
async def read_my_scores(
    staff: StateStaff, review: VisibleReview, session: SessionDep, response: Response
) -> SheetRead:
    """Your own score sheet for the review, with the ETag to send when you change it."""
    sheet = await repository.sheet(session, review.id, staff.user_id)
    if sheet is None:
        raise SheetNotFound("You have not scored this review yet.")
    response.headers["ETag"] = etag(sheet.version)
    return sheet_read(sheet)


SHEET_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": SheetRead, "description": "The sheet, created by your first PUT."}
}


@router.put(
    "/reviews/{review_id}/scores",
    response_model=SheetRead,
    responses=SHEET_CREATED | problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def put_my_scores(
    staff: StateStaff,
    body: ScoresPut,
    review: VisibleReview,
    session: SessionDep,
    response: Response,
    if_match: IfMatchToReplace = None,
) -> SheetRead | Response:
    """Record your conflict-of-interest statement and scores.

    Each reviewer has one score sheet per review. The first PUT creates it (`201`, with its
    `Location`); later ones replace it (`200`) and need `If-Match` with its ETag. A declared
    conflict answers 409: it is recorded, and the reviewer's scores (if any) no longer count.
    """
    # Before reading the sheet: a decision being made meanwhile is then seen, not raced.
    await repository.lock(session, review.id)
    sheet = await repository.sheet(session, review.id, staff.user_id)
    if sheet is None:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/reviews/{review.id}/scores"
    else:
        check_if_match(if_match, sheet.version)
    sheet = await service.put_scores(session, staff, review, sheet, body)
    if sheet.conflict_declared:
        # Answered, not raised, so that the unit of work commits the declaration.
        return render(
            service.ConflictOfInterest(
                "You declared a conflict of interest: your declaration is recorded and you "
                "cannot score or decide this review."
            )
        )
    response.headers["ETag"] = etag(sheet.version)
    return sheet_read(sheet)


@router.post(
    "/reviews/{review_id}/decision",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def decide_review(
    staff: StateStaff,
    body: DecisionCreate,
    review: VisibleReview,
    session: SessionDep,
    settings: SettingsDep,
    idempotency: IdempotencyDep,
) -> Response:
    """Decide the review: approve (for a term), approve with conditions, deny, or defer."""
    partner = await partners.get(session, staff, review.partner_id)
    if partner is None:
        raise PartnerNotFound(f"No partner {review.partner_id}.")

    async def create() -> tuple[ReviewRead, str]:
        decided = await service.decide(
            session, staff, review, partner, body, settings.designation_term_months
        )
        view = review_read(decided, service.summary(decided), await _facts(session, partner.id))
        return view, f"/v1/reviews/{review.id}"

    return await idempotency.run(body, create)
