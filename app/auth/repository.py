import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey, Role, SignInFailure, User
from app.auth.principal import Principal

# Built once, and read as plain columns on the session's connection: every request with an
# API key runs it, and a statement's cache key or an ORM object costs more than the query.
_KEY_HOLDER = (
    select(
        ApiKey.id,
        ApiKey.last_used_at,
        User.id,
        User.role,
        User.district_id,
        User.partner_id,
        User.is_active,
    )
    .join(ApiKey.user)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


class KeyHolder(NamedTuple):
    key_id: uuid.UUID
    last_used_at: datetime | None
    user_id: uuid.UUID
    role: Role
    district_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    is_active: bool


async def active_api_key_holder(session: AsyncSession, key_hash: str) -> KeyHolder | None:
    """An unrevoked key's id and last use, with its user's identity and whether it is active."""
    connection = await session.connection()
    row = (await connection.execute(_KEY_HOLDER, {"key_hash": key_hash})).one_or_none()
    return None if row is None else KeyHolder(*row)


async def mark_api_key_used(session: AsyncSession, key_id: uuid.UUID, moment: datetime) -> None:
    """Record a use of the key now, unless another request holds its row to record one.

    In a write's transaction the row stays locked until commit. Waiting for it there, or
    taking it at the first flush after the request has locked other rows, let two writes
    with one key lock in opposite orders and deadlock; skipping a use another request is
    recording anyway cannot.
    """
    free = (
        select(ApiKey.id)
        .where(ApiKey.id == key_id)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(
        update(ApiKey).where(ApiKey.id == free).values(last_used_at=moment),
        execution_options={"synchronize_session": False},
    )


async def active_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id, User.is_active))


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


def users_query() -> Select[User]:
    return select(User)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


def _visible_keys(principal: Principal) -> Select[ApiKey]:
    query = select(ApiKey)
    return query if principal.is_admin else query.where(ApiKey.user_id == principal.user_id)


async def lock_api_key(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID
) -> ApiKey | None:
    """The key, locked until commit: a change to it waits for any other's to commit."""
    query = _visible_keys(principal).where(ApiKey.id == key_id).with_for_update(of=ApiKey)
    return await session.scalar(query)


def api_keys_query(principal: Principal, user_id: uuid.UUID | None) -> Select[ApiKey]:
    query = _visible_keys(principal)
    return query if user_id is None else query.where(ApiKey.user_id == user_id)


# Advisory lock key spaces (the first of pg_advisory_xact_lock's two int4 keys).
_SIGN_IN_ACCOUNT, _SIGN_IN_CLIENT = 1, 2


async def queue_sign_ins(session: AsyncSession, email: str, client: str) -> None:
    """Make sign-ins for one account, or from one client, wait for each other until commit.

    The throttle counts committed failures: without a queue, parallel guesses on PostgreSQL
    all count the same failures and pass together. A transaction-scoped advisory lock per
    account and per client, always taken in that order so two attempts cannot deadlock, queues
    them. SQLite needs none: a sign-in writes, so it begins IMMEDIATE and queues already.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return
    for space, value in ((_SIGN_IN_ACCOUNT, email), (_SIGN_IN_CLIENT, client)):
        await session.execute(select(func.pg_advisory_xact_lock(space, func.hashtext(value))))


async def recent_failures(
    session: AsyncSession, since: datetime, *, email: str | None = None, client: str | None = None
) -> tuple[int, datetime | None]:
    """How many failed sign-ins since ``since`` for this account or client, and the oldest."""
    query = select(func.count(), func.min(SignInFailure.at)).where(SignInFailure.at > since)
    if email is not None:
        query = query.where(SignInFailure.email == email)
    if client is not None:
        query = query.where(SignInFailure.client == client)
    count, oldest = (await session.execute(query)).one()
    return int(count), oldest
