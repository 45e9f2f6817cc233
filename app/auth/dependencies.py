"""Who is calling, and may they call this route at all (object scoping lives in repositories)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import repository
from app.auth.models import Role, User
from app.auth.principal import STATE_ROLES, Principal
from app.core.base import utcnow
from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.security import API_KEY_PREFIX, api_key_hash, read_access_token

# Recording every use would turn each read into a write; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)

_bearer = HTTPBearer(
    auto_error=False,
    description="A JWT from `POST /v1/auth/token` or an API key (`rk_...`).",
)


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def current_principal(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("Send 'Authorization: Bearer <token or API key>'.")
    token = credentials.credentials
    if token.startswith(API_KEY_PREFIX):
        key = await repository.active_api_key(session, api_key_hash(settings, token))
        if key is None:
            raise Unauthorized("The API key is unknown or revoked.")
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            key.last_used_at = now
        user: User | None = key.user if key.user.is_active else None
    else:
        user_id = read_access_token(settings, token)
        if user_id is None:
            raise Unauthorized("The token is invalid or has expired.")
        user = await repository.active_user(session, user_id)
    if user is None:
        raise Unauthorized("The account is unknown or deactivated.")
    return Principal(
        user_id=user.id, role=user.role, district_id=user.district_id, partner_id=user.partner_id
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
