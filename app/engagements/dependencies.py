import uuid
from typing import Annotated

from fastapi import Depends

from app.auth.dependencies import CurrentPrincipal
from app.core.db import SessionDep
from app.engagements import repository
from app.engagements.models import Engagement
from app.engagements.service import EngagementNotFound


async def valid_engagement_id(
    engagement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Engagement:
    engagement = await repository.get(session, principal, engagement_id)
    if engagement is None:
        raise EngagementNotFound(f"No engagement {engagement_id}.")
    return engagement


VisibleEngagement = Annotated[Engagement, Depends(valid_engagement_id)]
