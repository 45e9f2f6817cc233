import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints

from app.auth.models import Role
from app.core.schemas import (
    NO_CONTROL_CHARACTERS,
    Email,
    Omittable,
    RequestModel,
    ResponseModel,
    ShortText,
)

Password = Annotated[str, StringConstraints(min_length=12, max_length=256)]


class UserCreate(RequestModel):
    email: Email
    password: Password | None = Field(
        default=None, description="Omit for system accounts that only use API keys."
    )
    role: Role
    district_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None


class UserUpdate(Omittable):
    is_active: StrictBool | None = Field(
        default=None,
        description="false refuses the user's tokens and API keys from the next request on.",
    )
    password: Password | None = Field(default=None, description="A new password.")


class SignInForm(Omittable):
    """The OAuth2 password form; the optional OAuth2 fields are accepted and ignored.

    A form has no null: an optional field is absent or a string.
    """

    username: Annotated[str, StringConstraints(min_length=1, max_length=254), NO_CONTROL_CHARACTERS]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256), NO_CONTROL_CHARACTERS]
    grant_type: Annotated[str, StringConstraints(pattern=r"^password$")] | None = None
    scope: Annotated[str, StringConstraints(max_length=200)] = ""
    client_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    client_secret: Annotated[str, StringConstraints(max_length=200)] | None = None


class UserRead(ResponseModel):
    id: uuid.UUID
    email: str
    role: Role
    district_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    is_active: bool
    version: int
    created_at: datetime
    updated_at: datetime


class TokenRead(ResponseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class ApiKeyCreate(RequestModel):
    name: ShortText
    user_id: uuid.UUID | None = Field(
        default=None,
        description="Admins may create a key for any user; others only for themselves.",
    )


class ApiKeyRead(ResponseModel):
    id: uuid.UUID
    name: str
    user_id: uuid.UUID
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret key. Shown once: store it now.")
