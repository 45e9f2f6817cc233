import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import NotFound, Unauthorized, problem_response, problem_responses
from app.core.metrics import exposition
from app.core.migrations import head_revision

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up. Touches nothing else."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
async def readyz(request: Request) -> Health | JSONResponse:
    """The database answers, its schema is at the migrations' head, and matches are warm."""
    database: Database = request.app.state.database
    try:
        async with database.engine.connect() as connection:
            current = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:
        return _unready("The database is unreachable or not migrated.")
    if current != head_revision():
        return _unready("The database schema is behind; run `registry migrate`.")
    if request.app.state.match_index.warming:
        return _unready("The match index is loading.")
    return Health(status="ready")


def _unready(detail: str) -> JSONResponse:
    # As every 503 of ours says when to ask again; the match index loads in seconds.
    return problem_response(
        503, "Service unavailable", detail, slug="not-ready", headers={"Retry-After": "5"}
    )


MetricsToken = HTTPBearer(
    scheme_name="MetricsToken",
    description="`REGISTRY_METRICS_TOKEN`: the scraper's credential, good for /metrics alone.",
    auto_error=False,
)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus' text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 404),
    },
)
async def metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(MetricsToken)],
) -> Response:
    """Request counts and times by route, and the match index's loads, summed over workers.

    Off (404) unless `REGISTRY_METRICS_TOKEN` is set; then send it as a bearer token.
    """
    settings: Settings = request.app.state.settings
    expected = settings.metrics_token.get_secret_value()
    if not expected:
        raise NotFound("Metrics are off: set REGISTRY_METRICS_TOKEN to serve them.")
    sent = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Unauthorized("Send the metrics token as a bearer token.")
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
