"""Sign-in, users and API keys."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from app.audit.service import record
from app.auth import repository
from app.auth.models import ApiKey, Role, SignInFailure, User
from app.auth.principal import Principal
from app.auth.schemas import ApiKeyCreate, UserCreate, UserUpdate
from app.core.base import utcnow
from app.core.config import Settings
from app.core.db import flush_or_raise
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from app.core.security import (
    IssuedToken,
    TokenSubject,
    api_key_hash,
    hash_password,
    issue_access_token,
    new_api_key,
    verify_password,
)
from app.districts.models import District
from app.partners.models import Partner


@dataclass(frozen=True)
class SignInResult:
    token: IssuedToken | None


async def _throttle(session: AsyncSession, settings: Settings, email: str, client: str) -> None:
    window = timedelta(seconds=settings.sign_in_window_seconds)
    since = utcnow() - window
    for limit, scope in (
        (settings.sign_in_max_failures_per_account, {"email": email}),
        (settings.sign_in_max_failures_per_client, {"client": client}),
    ):
        count, oldest = await repository.recent_failures(session, since, **scope)
        if count >= limit and oldest is not None:
            retry_after = max(1, int((oldest + window - utcnow()).total_seconds()) + 1)
            raise TooManyRequests(
                "Too many failed sign-ins; wait before trying again.", retry_after
            )


async def sign_in(
    session: AsyncSession, settings: Settings, email: str, password: str, client: str
) -> SignInResult:
    """A token, or a recorded failure: the caller must commit either way."""
    email = email.strip().lower()[:254]
    await repository.queue_sign_ins(session, email, client)
    await _throttle(session, settings, email, client)
    user = await repository.user_by_email(session, email)
    # Argon2 takes tens of milliseconds of CPU by design; off the event loop (it releases the
    # GIL), a burst of sign-ins does not stall every other request.
    password_ok = await run_in_threadpool(
        verify_password, password, user.password_hash if user else None
    )
    if user is not None and user.is_active and password_ok:
        return SignInResult(token=issue_access_token(settings, TokenSubject(user.id, user.version)))
    session.add(SignInFailure(email=email, client=client[:64]))
    await record(
        session,
        None,
        "auth.sign_in_failed",
        "user",
        user.id if user else None,
        {"email": email, "client": client},
    )
    return SignInResult(token=None)


async def update_user(
    session: AsyncSession, actor: Principal, user: User, data: UserUpdate
) -> User:
    """Deactivate or reactivate an account, or set its password."""
    if data.is_active is False and user.id == actor.user_id:
        # The last administrator could lock everyone out; another admin can do it instead.
        raise Conflict("You cannot deactivate your own account.")
    changes: dict[str, object] = {}
    if data.is_active is not None and data.is_active != user.is_active:
        changes["is_active"] = [user.is_active, data.is_active]
        user.is_active = data.is_active
    if data.password is not None:
        user.password_hash = await run_in_threadpool(hash_password, data.password)
        changes["password_changed"] = True
    if not changes:
        return user  # nothing to write: the version stays
    user.updated_at = utcnow()
    await session.flush()
    await record(session, actor, "user.updated", "user", user.id, changes)
    return user


async def create_user(session: AsyncSession, actor: Principal, data: UserCreate) -> User:
    if data.role is Role.DISTRICT and data.district_id is None:
        raise InvalidInput(["body", "district_id"], "A district user must name its district.")
    if data.role is Role.PARTNER and data.partner_id is None:
        raise InvalidInput(["body", "partner_id"], "A partner user must name its partner.")
    if data.role is not Role.DISTRICT and data.district_id is not None:
        raise InvalidInput(["body", "district_id"], "Only district users belong to a district.")
    if data.role is not Role.PARTNER and data.partner_id is not None:
        raise InvalidInput(["body", "partner_id"], "Only partner users belong to a partner.")
    if data.district_id is not None and await session.get(District, data.district_id) is None:
        raise InvalidInput(["body", "district_id"], "No such district.")
    if data.partner_id is not None and await session.get(Partner, data.partner_id) is None:
        raise InvalidInput(["body", "partner_id"], "No such partner.")
    if await repository.user_by_email(session, data.email) is not None:
        raise Conflict("A user with this email already exists.")
    password_hash = None
    if data.password:
        password_hash = await run_in_threadpool(hash_password, data.password)
    user = User(
        email=data.email,
        password_hash=password_hash,
        role=data.role,
        district_id=data.district_id,
        partner_id=data.partner_id,
    )
    session.add(user)
    await flush_or_raise(session, Conflict("A user with this email already exists."))
    await record(
        session,
        actor,
        "user.created",
        "user",
        user.id,
        data.model_dump(mode="json", exclude={"password"}) | {"password_set": bool(data.password)},
    )
    return user


async def create_api_key(
    session: AsyncSession, settings: Settings, actor: Principal, data: ApiKeyCreate
) -> tuple[ApiKey, str, User]:
    user_id = data.user_id or actor.user_id
    if user_id != actor.user_id and not actor.is_admin:
        raise Forbidden("Only administrators create keys for other users.")
    user = await repository.active_user(session, user_id)
    if user is None:
        raise InvalidInput(["body", "user_id"], "No such active user.")
    secret = new_api_key()
    key = ApiKey(
        user_id=user.id, name=data.name, prefix=secret[:10], key_hash=api_key_hash(settings, secret)
    )
    session.add(key)
    await session.flush()
    await record(
        session, actor, "api_key.created", "api_key", key.id, {"name": key.name, "user_id": user.id}
    )
    return key, secret, user


async def revoke_api_key(session: AsyncSession, actor: Principal, key_id: uuid.UUID) -> ApiKey:
    # Locked: revocations at once would each find the key unrevoked and each record one.
    key = await repository.lock_api_key(session, actor, key_id)
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await record(session, actor, "api_key.revoked", "api_key", key.id, {"name": key.name})
    return key
