"""Who is calling, and may they call this route at all (object scoping lives in repositories)."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.auth.models import Role
from app.auth.principal import STATE_ROLES, Principal
from app.core.base import utcnow
from app.core.config import Settings
from app.core.db import READ_ONLY_METHODS, SQLITE_BEGIN, SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.security import API_KEY_PREFIX, api_key_hash, read_access_token

# Recording every use would turn each read into a write; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)


# Async, as every dependency here: FastAPI runs a plain function in a worker thread.
async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


class BearerPrincipal(HTTPBearer):
    """The caller, from ``Authorization: Bearer <JWT or API key>``.

    The bearer scheme itself, so that the OpenAPI document declares it, and one dependency
    rather than three (scheme, settings, principal): every /v1 request resolves it, and each
    dependency FastAPI resolves costs about 10 µs.
    """

    async def __call__(  # type: ignore[override]
        self, request: Request, session: SessionDep
    ) -> Principal:
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthorized("Send 'Authorization: Bearer <token or API key>'.")
        principal = await _principal(request, session, credentials.credentials)
        if principal is None:
            raise Unauthorized("The account is unknown or deactivated.")
        return principal


async def _mark_used(request: Request, session: AsyncSession, key_id: uuid.UUID) -> None:
    if request.method in READ_ONLY_METHODS:
        # A read's SQLite transaction keeps the snapshot of its first read, and a write in it
        # fails at once (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out) if another
        # request has committed since: the read would fail for its bookkeeping. So the use is
        # recorded in a transaction of its own that takes the write lock first and waits its
        # turn; the request reads on in a new one. On PostgreSQL a read's statements commit
        # one by one anyway.
        await session.commit()
        await session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})
        await repository.mark_api_key_used(session, key_id, utcnow())
        await session.commit()
    else:
        await repository.mark_api_key_used(session, key_id, utcnow())


async def _principal(request: Request, session: AsyncSession, token: str) -> Principal | None:
    """Whom the token names; None when that account is deactivated. A credential that names
    no one (unknown, revoked, expired) is refused here with its own reason."""
    settings: Settings = request.app.state.settings
    if token.startswith(API_KEY_PREFIX):
        holder = await repository.active_api_key_holder(session, api_key_hash(settings, token))
        if holder is None:
            raise Unauthorized("The API key is unknown or revoked.")
        last_used = holder.last_used_at
        if last_used is None or utcnow() - last_used > LAST_USED_PRECISION:
            await _mark_used(request, session, holder.key_id)
        if not holder.is_active:
            return None
        return Principal(
            user_id=holder.user_id,
            role=holder.role,
            district_id=holder.district_id,
            partner_id=holder.partner_id,
        )
    subject = read_access_token(settings, token)
    if subject is None:
        raise Unauthorized("The token is invalid or has expired.")
    user = await repository.active_user(session, subject.user_id)
    if user is None:
        return None
    if user.version != subject.user_version:
        # A new password (or a deactivation since lifted) ends the sessions opened before it:
        # a token taken with the old password must not outlive the reset for its 15 minutes.
        raise Unauthorized("The account changed since this token was issued; sign in again.")
    return Principal(
        user_id=user.id, role=user.role, district_id=user.district_id, partner_id=user.partner_id
    )


current_principal = BearerPrincipal(
    auto_error=False,
    # The name clients' generated code already knows the scheme by.
    scheme_name="HTTPBearer",
    description="A JWT from `POST /v1/auth/token` or an API key (`rk_...`).",
)
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("Your role may not do this.")
        return principal

    return check


StateStaff = Annotated[Principal, Depends(require_roles(*STATE_ROLES))]
StateAdmin = Annotated[Principal, Depends(require_roles(Role.STATE_ADMIN))]
StaffOrPartner = Annotated[Principal, Depends(require_roles(*STATE_ROLES, Role.PARTNER))]
