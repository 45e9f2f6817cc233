"""Errors as classes, rendered as RFC 9457 problem details in one place."""

import json
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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

    def __init__(self) -> None:
        super().__init__("Send If-Match with the ETag from your last read.")


class PreconditionFailed(AppError):
    status = HTTPStatus.PRECONDITION_FAILED
    slug = "precondition-failed"
    title = "The resource has changed"


class PayloadTooLarge(AppError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(AppError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    slug = "unsupported-media-type"
    title = "Unsupported media type"


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


def _malformed_body() -> JSONResponse:
    return problem_response(
        400, "Malformed request body", "The body is not valid JSON.", slug="malformed-body"
    )


def _lacks_if_match(request: Request) -> bool:
    """The route reached needs `If-Match` (`app.core.etag.IfMatch`) and the request has none.

    Its absence is the missing precondition RFC 6585 names, answered 428 whatever else is
    wrong with the request: a body FastAPI cannot parse stops it before it checks headers.
    """
    if "if-match" in request.headers:
        return False
    route = request.scope.get("route")
    route = getattr(route, "original_route", route)
    return isinstance(route, APIRoute) and any(
        header.alias == "If-Match" and header.field_info.is_required()
        for header in route.dependant.header_params
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _lacks_if_match(request):
        return render(PreconditionRequired())
    if isinstance(exc.body, bytes):
        # FastAPI parses a body as JSON only when its Content-Type says JSON; otherwise the raw
        # bytes reach validation, and "input should be an object" would hide the real mistake.
        return render(
            UnsupportedMediaType(
                "Send the body as application/json (the Content-Type header names the format)."
            )
        )
    issues = _public_issues(exc.errors())
    if any(issue["type"] == "json_invalid" for issue in issues):
        return _malformed_body()
    return problem_response(
        422,
        "Validation error",
        "The request did not pass validation; see errors.",
        slug="validation-error",
        errors=issues,
    )


def _allowed_methods(request: Request) -> str:
    """Every documented method of the resource at this path, for `Allow` on a 405.

    Starlette names only the methods of the first route whose path matched; a resource served by
    several routes (GET and PATCH on /partners/{id}) has more. As in routing, a literal segment
    wins over a parameter: /evidence/classify is its own resource, not /evidence/{evidence_id}.
    """
    path = request.scope["path"]
    root_path = request.scope.get("root_path", "")
    if root_path and path.startswith(root_path + "/"):
        path = path[len(root_path) :]
    # The app's routes hold included routers whole; iter_route_contexts walks into them.
    matching = [
        (route.path_format or "", route.methods or set())
        for route in iter_route_contexts(request.app.routes)
        if isinstance(route.original_route, APIRoute)
        and route.original_route.include_in_schema
        and route.path_regex.match(path)
    ]
    fewest = min((path_format.count("{") for path_format, _ in matching), default=0)
    allowed = {
        method
        for path_format, methods in matching
        if path_format.count("{") == fewest
        for method in methods
    }
    if "GET" in allowed:
        allowed.add("HEAD")  # `app.core.middleware.HeadAsGet`
    return ", ".join(sorted(allowed))


_ROUTING_DETAILS = {
    HTTPStatus.NOT_FOUND: "Nothing is served at this path; the API's paths are in /openapi.json.",
    HTTPStatus.METHOD_NOT_ALLOWED: (
        "This resource does not take that method; Allow lists those it does."
    ),
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI's body parsing wraps anything but a JSON syntax error, bytes that are not
        # UTF-8 included, in a bare 400; to the client it is the same mistake as bad JSON.
        return render(PreconditionRequired()) if _lacks_if_match(request) else _malformed_body()
    status = HTTPStatus(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != status.phrase else None
    # Every problem carries a detail, as the contract names it; routing's own say what it is.
    detail = detail or _ROUTING_DETAILS.get(status, status.description)
    headers = dict(exc.headers or {})
    if status is HTTPStatus.METHOD_NOT_ALLOWED and (allowed := _allowed_methods(request)):
        headers["Allow"] = allowed  # else an undocumented route's own, e.g. /openapi.json
    return problem_response(exc.status_code, status.phrase, detail, headers=headers or None)


class BodyTooLarge(StarletteHTTPException):
    """A body counted past the limit while the app reads it (`app.core.middleware`): an
    HTTPException so that FastAPI's body parsing lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes.")
        self.limit = limit


def body_too_large(limit: int) -> JSONResponse:
    """The one 413 problem, whether the body was refused by its Content-Length or counted."""
    return problem_response(
        413,
        "Payload too large",
        f"The request body exceeds {limit} bytes.",
        slug="payload-too-large",
    )


async def _body_too_large(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return body_too_large(exc.limit)


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
    app.add_exception_handler(BodyTooLarge, _body_too_large)
    app.add_exception_handler(StaleDataError, _stale_write)
    app.add_exception_handler(OperationalError, _database_unavailable)
    # Every pooled connection was busy for the whole pool timeout.
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def _problem_response_doc(status: int, description: str | None = None) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        "description": description or HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": schema}, "application/json": {"schema": schema}},
    }


def _describe_problems(spec: dict[str, Any]) -> None:
    """Correct what FastAPI documents by default, in place, to what the handlers above send.

    FastAPI documents its own 422 body (`HTTPValidationError`, `application/json`) on routes
    that do not declare one; ours is a problem. A JSON body that is not JSON at all is answered
    with 400 and one sent as another media type with 415 (`_validation_error`), and a body over
    the size limit with 413 (`app.core.middleware.BodySizeLimit`), on every route that reads one.
    """
    for operation in (op for item in spec.get("paths", {}).values() for op in item.values()):
        responses = operation.setdefault("responses", {})
        validation = responses.get("422", {}).get("content", {}).get("application/json", {})
        if validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
            responses["422"] = _problem_response_doc(422)
        body_types = operation.get("requestBody", {}).get("content", {})
        if body_types:
            responses.setdefault("413", _problem_response_doc(413, "Payload too large"))
        if "application/json" in body_types:
            responses.setdefault("400", _problem_response_doc(400, "Malformed request body"))
            responses.setdefault("415", _problem_response_doc(415, "Body not sent as JSON"))
        operation["responses"] = dict(sorted(responses.items()))
    schemas = spec.get("components", {}).get("schemas", {})
    text = json.dumps(spec.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'/{unused}"' not in text:
            schemas.pop(unused, None)


def document_problems(app: FastAPI) -> None:
    """Serve an OpenAPI document whose error responses are the problems the API sends."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe_problems(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
