"""``Idempotency-Key`` on creates: a retried request replays the first response."""

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import CurrentPrincipal, SettingsDep
from app.core.base import utcnow
from app.core.db import SessionDep
from app.core.errors import Conflict
from app.core.etag import etag
from app.idempotency.models import IdempotentRequest

Create = Callable[[], Awaitable[tuple[BaseModel, str]]]

KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Send the same key to retry a create safely for 24 hours.",
    ),
]


def created_response(model: BaseModel, location: str) -> Response:
    # Straight to JSON bytes: a stored match's answer is about 15 KB, and going through a
    # dict and json.dumps cost three times as much.
    return Response(
        model.model_dump_json(),
        status_code=status.HTTP_201_CREATED,
        headers=_headers(location, getattr(model, "version", None), replayed=False),
        media_type="application/json",
    )


def _replay(code: int, body: Any, location: str | None) -> Response:
    version = body.get("version") if isinstance(body, dict) else None
    return JSONResponse(body, status_code=code, headers=_headers(location, version, replayed=True))


def _headers(location: str | None, version: object, *, replayed: bool) -> dict[str, str]:
    headers = {"Location": location} if location else {}
    if isinstance(version, int):
        headers["ETag"] = etag(version)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return headers


class SecretShownOnce(Conflict):
    title = "Already created"

    def __init__(self, location: str | None) -> None:
        super().__init__(
            "The first request with this Idempotency-Key created the resource, and its secret "
            "is shown once only: it is not kept for replays. Revoke it and create another if "
            "the first response was lost."
        )
        if location:
            self.headers["Location"] = location


class Idempotency:
    def __init__(
        self,
        session: AsyncSession,
        owner: str,
        endpoint: str,
        key: str | None,
        ttl: timedelta,
        secret: str,
    ) -> None:
        self.session = session
        self.owner = owner
        self.endpoint = endpoint
        self.key = key
        self.ttl = ttl
        self.secret = secret

    def _fingerprint(self, body: BaseModel) -> str:
        # Keyed: a body may hold a password, and a plain hash of it in the table could be
        # guessed offline far faster than the password's own hash.
        canonical = json.dumps(
            [self.endpoint, body.model_dump(mode="json")], sort_keys=True, separators=(",", ":")
        )
        return hmac.new(self.secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()

    async def _existing(self) -> IdempotentRequest | None:
        return await self.session.scalar(
            select(IdempotentRequest).where(
                IdempotentRequest.owner == self.owner, IdempotentRequest.key == self.key
            )
        )

    async def run(
        self, body: BaseModel, create: Create, *, shown_once: Collection[str] = ()
    ) -> Response:
        """Create, or replay the first response to this key.

        ``shown_once`` names response fields that are secrets: they are never stored, and a
        replay answers 409 rather than a response without them.
        """
        if self.key is None:
            model, location = await create()
            return created_response(model, location)
        fingerprint = self._fingerprint(body)
        await self.session.execute(
            delete(IdempotentRequest).where(
                IdempotentRequest.owner == self.owner,
                IdempotentRequest.key == self.key,
                IdempotentRequest.created_at < utcnow() - self.ttl,
            )
        )
        previous = await self._existing()
        if previous is None:
            reservation = IdempotentRequest(
                owner=self.owner, key=self.key, fingerprint=fingerprint, status_code=0, body=None
            )
            try:
                # A concurrent twin waits on the unique (owner, key) row, then fails here and
                # replays what the first request committed.
                async with self.session.begin_nested():
                    self.session.add(reservation)
            except IntegrityError:
                previous = await self._existing()
                if previous is None:
                    raise Conflict(
                        "A request with this Idempotency-Key is in progress; retry shortly."
                    ) from None
            else:
                model, location = await create()
                reservation.status_code = status.HTTP_201_CREATED
                reservation.body = model.model_dump(mode="json", exclude=set(shown_once))
                reservation.location = location
                return created_response(model, location)
        if previous.fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was used with a different request body.")
        if shown_once:
            raise SecretShownOnce(previous.location)
        return _replay(previous.status_code, previous.body, previous.location)


async def idempotency(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    key: KeyHeader = None,
) -> Idempotency:
    return Idempotency(
        session,
        owner=str(principal.user_id),
        endpoint=f"{request.method} {request.url.path}",
        key=key,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        secret=settings.signing_key,
    )


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
