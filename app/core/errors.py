"""Errors as classes, rendered as RFC 9457 problem details in one place."""

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://registry.example.org/problems/"

log = structlog.get_logger(__name__)


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    type: str = Field(examples=[f"{TYPE_BASE}not-found"])
    title: str
    status: int
    detail: str | None = None
    errors: list[ValidationIssue] | None = None
    allowed: list[str] | None = Field(
        default=None, description="For illegal status transitions: the statuses allowed now."
    )


class AppError(Exception):
    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


class NotFound(AppError):
    status = HTTPStatus.NOT_FOUND
    slug = "not-found"
    title = "Not found"


class Unauthorized(AppError):
    status = HTTPStatus.UNAUTHORIZED
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers["WWW-Authenticate"] = "Bearer"


class Forbidden(AppError):
    status = HTTPStatus.FORBIDDEN
    slug = "forbidden"
    title = "Forbidden"


class Conflict(AppError):
    status = HTTPStatus.CONFLICT
    slug = "conflict"
    title = "Conflict"


class PreconditionRequired(AppError):
    status = HTTPStatus.PRECONDITION_REQUIRED
    slug = "precondition-required"
    title = "If-Match header required"


class PreconditionFailed(AppError):
    status = HTTPStatus.PRECONDITION_FAILED
    slug = "precondition-failed"
    title = "The resource has changed"


class PayloadTooLarge(AppError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    slug = "payload-too-large"
    title = "Payload too large"


class TooManyRequests(AppError):
    status = HTTPStatus.TOO_MANY_REQUESTS
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after)


class InvalidInput(AppError):
    """A well-formed request whose values break a rule that a schema cannot express."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    slug = "validation-error"
    title = "Validation error"

    def __init__(self, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.extra = {"errors": [{"loc": list(loc), "msg": msg, "type": type_}]}


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    slug: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    status = int(status)
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or HTTPStatus(status).phrase.lower().replace(" ", "-")),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _public_issues(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """Keep location, message and type; drop the echoed input and internal context."""
    return [
        {
            "loc": [part for part in error.get("loc", ()) if isinstance(part, str | int)],
            "msg": str(error.get("msg", "Invalid value")),
            "type": str(error.get("type", "value_error")),
        }
        for error in errors
    ]


def render(error: AppError) -> JSONResponse:
    return problem_response(
        error.status,
        error.title,
        error.detail,
        slug=error.slug,
        headers=error.headers or None,
        **error.extra,
    )


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return render(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = _public_issues(exc.errors())
    if any(issue["type"] == "json_invalid" for issue in issues):
        return problem_response(
            400, "Malformed request body", "The body is not valid JSON.", slug="malformed-body"
        )
    return problem_response(
        422,
        "Validation error",
        "The request did not pass validation; see errors.",
        slug="validation-error",
        errors=issues,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != status.phrase else None
    return problem_response(exc.status_code, status.phrase, detail, headers=exc.headers)


async def _stale_write(_request: Request, _exc: Exception) -> JSONResponse:
    # Two writers passed the If-Match check together; the database let only one through.
    return render(
        PreconditionFailed("Another request changed this resource first; fetch it again.")
    )


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database_unavailable", error=type(exc).__name__)
    return problem_response(
        503,
        "Service unavailable",
        "The database is busy or unreachable; retry shortly.",
        headers={"Retry-After": "1"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
    return problem_response(500, "Internal server error", "The error has been logged.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StaleDataError, _stale_write)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problems a route can answer."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": HTTPStatus(status).phrase,
        }
        for status in statuses
    }
