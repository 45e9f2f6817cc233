"""The ASGI application: ``app.main:app``."""

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from app.api import API_PREFIX, DOMAIN_ROUTERS
from app.core.config import ConfigurationError, Environment, Settings, get_settings
from app.core.db import Database
from app.core.errors import document_problems, install_error_handlers, problem_responses
from app.core.logging import configure_logging
from app.core.middleware import (
    BodySizeLimit,
    Cors,
    HeadAsGet,
    JoinedIfMatch,
    RequestLog,
    SecurityHeaders,
    TrustedHosts,
)
from app.health.router import router as health_router
from app.matching.index import MatchIndex

DESCRIPTION = """
The state registry of vetted school-improvement partners: partner profiles, ESSA evidence
tiers, due-diligence reviews and designations, and matching of district needs to partners.

Authenticate with `Authorization: Bearer <token>`, where the token is a JWT from
`POST /v1/auth/token` or an API key (`rk_...`). Errors are RFC 9457 problem details.
"""


# Net allocations of tracked objects between two collections of the youngest generation,
# against Python's 700: a page of fifty partners allocates about that many containers, so the
# collector ran once per list request and, every hundred of those, a full pass. Short-lived
# objects are freed by reference counting before a collection sees them; only cycles wait.
# Instructions per match -5.4 %, per list page -1.9 % (docs/benchmark.md).
YOUNG_COLLECTION_THRESHOLD = 10_000


def spare_long_lived_objects() -> None:
    """Leave what the worker loaded at start (above all the match index) out of the cycle
    collector's full passes.

    A full pass walks every tracked object: with the national index loaded that took 170-190 ms,
    about once per thousand requests, during which the worker answered nothing; every request in
    flight waited. Frozen, a pass takes well under a millisecond. Reference counting still frees
    what is dropped; only a frozen reference cycle would wait for `gc.unfreeze`, and the index's
    partners, replaced whole when they change, hold none.
    """
    gc.collect()
    gc.freeze()


def operation_id(route: APIRoute) -> str:
    """Stable ids for client generators: the handler's name, unique across the API."""
    return route.name


class Registry(FastAPI):
    """FastAPI, with request logging and security headers around its whole middleware stack.

    Starlette answers an unhandled exception from its outermost layer, outside anything added
    with `add_middleware`: that 500 would go out without security headers or the request id
    the client needs to quote. These two wrap that layer too.
    """

    def build_middleware_stack(self) -> ASGIApp:
        hsts = self.state.settings.env is Environment.PRODUCTION
        return RequestLog(SecurityHeaders(super().build_middleware_stack(), hsts=hsts))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json=settings.log_json)
    database = Database(settings)
    match_index = MatchIndex()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
        warming = match_index.warm_up(database, loaded=spare_long_lived_objects)
        yield
        warming.cancel()
        # Awaited before the pool closes: a connection it still held would stay checked out,
        # and on SQLite its thread would keep the process alive after a failed start.
        await asyncio.gather(warming, return_exceptions=True)
        # Whatever this app froze becomes collectable again (tests start many apps), and the
        # collector runs as it did before.
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        await database.dispose()

    app = Registry(
        title="Partner Vetting Registry",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # `/v1/partners/` is not a route: a 404 problem, not a redirect built from the Host.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.match_index = match_index
    install_error_handlers(app)
    document_problems(app)
    app.include_router(health_router)
    for router in DOMAIN_ROUTERS:
        # Every API operation reads the database, so any may find it busy or unreachable.
        app.include_router(router, prefix=API_PREFIX, responses=problem_responses(503))

    def body_limit(path: str) -> int:
        return (
            settings.max_upload_bytes if path.endswith("/document") else settings.max_request_bytes
        )

    # Starlette runs the last middleware added first: limits come early. Logging and security
    # headers come before all of these (`Registry.build_middleware_stack`).
    app.add_middleware(JoinedIfMatch)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodySizeLimit, limit_for=body_limit)
    if settings.cors_origins:
        app.add_middleware(
            Cors,
            allow_origins=settings.cors_origins,
            allow_credentials="*" not in settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            # Every header the README tells clients to read, so that browser code can.
            expose_headers=[
                "ETag",
                "Location",
                "Retry-After",
                "X-Request-Id",
                "Idempotent-Replayed",
                "Content-Disposition",
            ],
        )
    app.add_middleware(TrustedHosts, allowed_hosts=settings.trusted_hosts)
    return app


def _create_or_exit() -> FastAPI:
    try:
        return create_app()
    except ConfigurationError as error:
        print(f"registry: {error}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None


app = _create_or_exit()
