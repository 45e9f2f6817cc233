"""Passwords, signed access tokens and API keys: the primitives, no policy."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.base import utcnow
from app.core.config import Settings

API_KEY_PREFIX = "rk_"
JWT_ALGORITHM = "HS256"

_passwords = PasswordHash((Argon2Hasher(),))
# Verifying against this keeps a sign-in for an unknown account as slow as a wrong password.
_DUMMY_HASH = _passwords.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    return _passwords.verify(password, password_hash or _DUMMY_HASH) and password_hash is not None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenSubject:
    """Whom a token names, and the version of that account it was issued for."""

    user_id: uuid.UUID
    user_version: int


def issue_access_token(settings: Settings, subject: TokenSubject) -> IssuedToken:
    now = utcnow()
    expires_at = now + timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(subject.user_id),
        "ver": subject.user_version,
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "jti": secrets.token_hex(8),
    }
    token = jwt.encode(claims, settings.signing_key, algorithm=JWT_ALGORITHM)
    return IssuedToken(token=token, expires_at=expires_at)


def read_access_token(settings: Settings, token: str) -> TokenSubject | None:
    """Whom a valid token names; None for anything expired, forged or malformed."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[JWT_ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "ver"]},
        )
        version = claims["ver"]
        if type(version) is not int:
            return None
        return TokenSubject(uuid.UUID(str(claims["sub"])), version)
    except (jwt.PyJWTError, ValueError):
        return None


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_hash(settings: Settings, key: str) -> str:
    """Keyed, so a copy of the table alone cannot be used to check guesses offline."""
    return hmac.new(settings.signing_key.encode(), key.encode(), hashlib.sha256).hexdigest()
