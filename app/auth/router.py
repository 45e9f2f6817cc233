import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status

from app.auth import repository, service
from app.auth.dependencies import CurrentPrincipal, SettingsDep, StateAdmin
from app.auth.models import ApiKey, User
from app.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    SignInForm,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from app.core.db import SessionDep
from app.core.errors import (
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    problem_responses,
    render,
)
from app.core.etag import IfMatch, check_if_match, etag
from app.core.pagination import Cursor, Limit, Page, paginate
from app.idempotency.service import IdempotencyDep

router = APIRouter()

AUTH_ERRORS = problem_responses(401, 403)
FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def _sent_as_a_form(request: Request) -> None:
    """Refuse a sign-in whose body is not a form.

    Starlette reads any other body, JSON included, as an empty form, so without this the
    answer would be "field required" for the username and password the client did send.
    """
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type not in FORM_MEDIA_TYPES:
            raise UnsupportedMediaType(
                "Send the sign-in as a form (application/x-www-form-urlencoded) with username "
                "and password, as OAuth2's password grant does."
            )


@router.post(
    "/auth/token",
    tags=["auth"],
    response_model=TokenRead,
    responses=problem_responses(400, 401, 415, 422, 429),
    dependencies=[Depends(_sent_as_a_form)],
)
async def sign_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[SignInForm, Form()],
) -> TokenRead | Response:
    """Exchange an email and password (OAuth2 password form) for a short-lived JWT."""
    client = request.client.host if request.client else "unknown"
    result = await service.sign_in(session, settings, form.username, form.password, client)
    if result.token is None:
        # Returned, not raised, so that the failure is committed and counts toward throttling.
        return render(Unauthorized("The email or password is wrong."))
    return TokenRead(access_token=result.token.token, expires_in=settings.access_token_minutes * 60)


@router.post(
    "/users",
    tags=["users"],
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_user(
    body: UserCreate, session: SessionDep, admin: StateAdmin, idempotency: IdempotencyDep
) -> Response:
    async def create() -> tuple[UserRead, str]:
        user = await service.create_user(session, admin, body)
        return UserRead.model_validate(user), f"/v1/users/{user.id}"

    return await idempotency.run(body, create)


@router.get("/users", tags=["users"], responses=AUTH_ERRORS)
async def list_users(
    session: SessionDep, _admin: StateAdmin, cursor: Cursor = None, limit: Limit = 50
) -> Page[UserRead]:
    users, next_cursor = await paginate(
        session, repository.users_query(), [User.email, User.id], cursor, limit
    )
    return Page(items=[UserRead.model_validate(user) for user in users], next_cursor=next_cursor)


@router.get("/users/me", tags=["users"], responses=AUTH_ERRORS)
async def read_me(session: SessionDep, principal: CurrentPrincipal, response: Response) -> UserRead:
    user = await repository.get_user(session, principal.user_id)
    assert user is not None
    response.headers["ETag"] = etag(user.version)
    return UserRead.model_validate(user)


async def _admins_user(user_id: uuid.UUID, session: SessionDep, _admin: StateAdmin) -> User:
    user = await repository.get_user(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


AdminsUser = Annotated[User, Depends(_admins_user)]


@router.patch("/users/me", include_in_schema=False)
async def update_me() -> None:
    """405, not a 422 for the id "me" from `PATCH /users/{user_id}`: accounts are changed by
    an administrator."""
    raise HTTPException(status.HTTP_405_METHOD_NOT_ALLOWED)


@router.get(
    "/users/{user_id}",
    tags=["users"],
    responses=problem_responses(401, 403, 404),
)
async def read_user(user: AdminsUser, response: Response) -> UserRead:
    response.headers["ETag"] = etag(user.version)
    return UserRead.model_validate(user)


@router.patch(
    "/users/{user_id}",
    tags=["users"],
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
)
async def update_user(
    body: UserUpdate,
    user: AdminsUser,
    admin: StateAdmin,
    session: SessionDep,
    response: Response,
    if_match: IfMatch,
) -> UserRead:
    """Deactivate (`is_active: false`) or reactivate a user, or set a new password; send
    `If-Match` with the ETag you read. A deactivated user's tokens and API keys are refused
    from the next request on."""
    check_if_match(if_match, user.version)
    await service.update_user(session, admin, user, body)
    response.headers["ETag"] = etag(user.version)
    return UserRead.model_validate(user)


@router.post(
    "/api-keys",
    tags=["api-keys"],
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_api_key(
    body: ApiKeyCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Response:
    """Create a key; its secret is in the response and nowhere else, ever.

    A retry with the same `Idempotency-Key` creates nothing new and answers 409 with the
    key's `Location`: the secret is not kept, so it cannot be shown a second time.
    """

    async def create() -> tuple[ApiKeyCreated, str]:
        key, secret, _user = await service.create_api_key(session, settings, principal, body)
        created = ApiKeyCreated.model_validate(
            ApiKeyRead.model_validate(key).model_dump() | {"key": secret}
        )
        return created, f"/v1/api-keys/{key.id}"

    return await idempotency.run(body, create, shown_once={"key"})


@router.get("/api-keys", tags=["api-keys"], responses=AUTH_ERRORS)
async def list_api_keys(
    session: SessionDep,
    principal: CurrentPrincipal,
    user_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ApiKeyRead]:
    """Your own keys; administrators see everyone's and may filter by `user_id`."""
    keys, next_cursor = await paginate(
        session,
        repository.api_keys_query(principal, user_id),
        [ApiKey.created_at, ApiKey.id],
        cursor,
        limit,
    )
    return Page(items=[ApiKeyRead.model_validate(key) for key in keys], next_cursor=next_cursor)


@router.delete(
    "/api-keys/{key_id}",
    tags=["api-keys"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def revoke_api_key(
    key_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Revoke a key; the next request that uses it is refused."""
    await service.revoke_api_key(session, principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
