"""Pure ASGI middleware: trusted hosts, body size limits, security headers, request logging."""

import re
import time
import uuid
from collections.abc import Callable, Sequence

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import BodyTooLarge, body_too_large, problem_response
from app.core.metrics import RequestMetrics

log = structlog.get_logger("registry.http")


# The Host header: a name or IPv4 address, or a bracketed IPv6 address, then an optional port.
_HOST_HEADER = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/@\[\]]+)(?::[0-9]{0,5})?")


class TrustedHosts:
    """Answer only to the configured host names; any other Host is a 400 problem.

    Like Starlette's TrustedHostMiddleware (same patterns: ``*``, ``name``, ``*.domain``), but
    the refusal is problem+json like every other error, and there is no www redirect. The
    patterns are validated with the settings (``Settings.trusted_hosts``).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed_hosts = [pattern.lower() for pattern in allowed_hosts]
        self.allow_any = "*" in self.allowed_hosts

    def is_trusted(self, host_header: str | None) -> bool:
        match = _HOST_HEADER.fullmatch(host_header or "")
        if match is None:
            return False
        host = match["host"].lower()
        return any(
            host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))
            for pattern in self.allowed_hosts
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        if self.is_trusted(Headers(scope=scope).get("host")):
            await self.app(scope, receive, send)
            return
        response = problem_response(
            400,
            "Invalid host",
            "This server does not answer to the host named in the request.",
            slug="invalid-host",
        )
        await response(scope, receive, send)


class BodySizeLimit:
    """Refuse bodies over the limit with 413, by Content-Length or by counting the stream."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(limit, scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(limit, scope, receive, send)

    @staticmethod
    async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        await body_too_large(limit)(scope, receive, send)


class HeadAsGet:
    """Answer HEAD wherever GET is served, as RFC 9110 asks of every server: the status and
    headers of the GET, without its body.

    FastAPI routes only the methods they declare, and declaring HEAD on each GET would add an
    operation per path to the OpenAPI document. A HEAD reaches the route as the GET it stands
    for, which reads and never writes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET"}
        await self.app(as_get, receive, send_headers_only)
        if "route" in as_get:
            # The route the router chose, for the request's metrics outside.
            scope["route"] = as_get["route"]


class JoinedIfMatch:
    """Read ``If-Match`` sent on several lines as the one comma-separated list it is.

    RFC 9110 (5.3) lets a client or proxy split a list header over lines; FastAPI reads the
    first line only, so a version named on a later line would be refused as stale.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Reads never check If-Match: they skip the look through their headers.
        if scope["type"] == "http" and scope["method"] not in {"GET", "HEAD"}:
            tags = [value for name, value in scope["headers"] if name == b"if-match"]
            if len(tags) > 1:
                others = [(name, value) for name, value in scope["headers"] if name != b"if-match"]
                scope = {**scope, "headers": [*others, (b"if-match", b", ".join(tags))]}
        await self.app(scope, receive, send)


SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"geolocation=(), camera=(), microphone=()",
}
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name.decode(), value.decode())
                if not docs:
                    headers.setdefault("content-security-policy", API_CSP.decode())
                    headers.setdefault("cache-control", "no-store")
                if self.hsts:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestLog:
    """One structured line per request, with an id the client can quote, and its count and
    time in the metrics by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = RequestMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe(scope["method"], self.metrics.route(scope), status, seconds)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(seconds * 1000, 1),
                request_id=request_id,
            )


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as problem+json like every error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in {"content-type", "content-length"}
        }
        return problem_response(
            response.status_code,
            "CORS preflight refused",
            bytes(response.body).decode(),  # "Disallowed CORS origin, method" and the like
            slug="cors-refused",
            headers=headers,
        )
