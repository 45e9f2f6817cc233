import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentPrincipal
from app.core.db import SessionDep
from app.core.errors import NotFound
from app.reviews import repository
from app.reviews.models import Review, Rubric


class ReviewNotFound(NotFound):
    title = "Review not found"


class SheetNotFound(NotFound):
    title = "Score sheet not found"


class RubricNotFound(NotFound):
    title = "Rubric not found"


async def valid_review_id(
    review_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Review:
    """The review, if it exists and the caller may see it; another tenant's is a 404 too."""
    review = await repository.get(session, principal, review_id)
    if review is None:
        raise ReviewNotFound(f"No review {review_id}.")
    return review


async def valid_rubric_id(
    rubric_id: uuid.UUID, session: SessionDep, _principal: CurrentPrincipal
) -> Rubric:
    rubric = await repository.rubric(session, rubric_id)
    if rubric is None:
        raise RubricNotFound(f"No rubric {rubric_id}.")
    return rubric


VisibleReview = Annotated[Review, Depends(valid_review_id)]
ValidRubric = Annotated[Rubric, Depends(valid_rubric_id)]
