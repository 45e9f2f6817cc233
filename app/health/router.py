from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import Database
from app.core.errors import problem_response, problem_responses
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
    return problem_response(503, "Service unavailable", detail, slug="not-ready")
