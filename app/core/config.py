"""Settings from the environment (prefix ``REGISTRY_``) and an optional ``.env`` file."""

import math
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"
MIN_SECRET_LENGTH = 32
# A generated key (`secrets.token_urlsafe(48)`, `openssl rand -hex 32`) has far more; a
# repeated word or a run of one character has fewer.
MIN_SECRET_DISTINCT_CHARACTERS = 8
GENERATE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"

# What TrustedHosts understands: "*" alone, a host name or IPv4 address, "*.example.org"
# (any subdomain) or a bracketed IPv6 address; never a port, scheme or path.
HOST_PATTERN = re.compile(r"\*|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]", re.IGNORECASE)
# A browser origin: scheme, host and optional port; never a path, a wildcard or "null".
ORIGIN_PATTERN = re.compile(
    r"https?://([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?", re.IGNORECASE
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _as_browsers_send(origin: str) -> str:
    """An origin as a browser's ``Origin`` header carries it, which an allowed origin must
    equal to the letter: lower case, with no trailing slash and no default port."""
    origin = origin.removesuffix("/").lower()
    for scheme, port in (("https://", ":443"), ("http://", ":80")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin.removesuffix(port)
    return origin


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGISTRY_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.DEVELOPMENT
    # Kept out of repr(): a PostgreSQL URL may carry a password.
    database_url: str = Field(default="sqlite:///./registry.db", repr=False)
    # PostgreSQL connections each worker keeps open for reads, and as many for writes: one
    # per request in flight. A request beyond them waits up to the timeout for one, then
    # gets a 503. No overflow connections: opening one per burst and closing it after cost
    # more than the requests it served.
    database_pool_size: int = Field(default=20, ge=1, le=500)
    database_pool_timeout_seconds: float = Field(default=10, gt=0, le=300)
    secret_key: SecretStr = SecretStr("")
    # The scraper's own credential for /metrics, good for nothing else; unset, /metrics is off.
    metrics_token: SecretStr = SecretStr("")

    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    token_issuer: str = "partner-registry"
    token_audience: str = "partner-registry-api"

    sign_in_window_seconds: int = Field(default=900, ge=1)
    sign_in_max_failures_per_account: int = Field(default=5, ge=1)
    sign_in_max_failures_per_client: int = Field(default=20, ge=1)

    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=20 * 1_048_576, ge=1024)
    storage_root: Path = Path("./storage")
    idempotency_ttl_hours: int = Field(default=24, ge=1)

    evidence_min_sample_size: int = Field(default=350, ge=1)
    evidence_min_sites: int = Field(default=2, ge=1)
    designation_term_months: int = Field(default=36, ge=1, le=120)

    # The matching engine's component weights (app/matching/engine.py, `Weights`).
    match_weight_need_coverage: float = Field(default=0.30, ge=0, le=1)
    match_weight_evidence: float = Field(default=0.25, ge=0, le=1)
    match_weight_due_diligence: float = Field(default=0.15, ge=0, le=1)
    match_weight_track_record: float = Field(default=0.10, ge=0, le=1)
    match_weight_capacity: float = Field(default=0.10, ge=0, le=1)
    match_weight_context_fit: float = Field(default=0.10, ge=0, le=1)

    cors_origins: Annotated[list[str], NoDecode] = []
    trusted_hosts: Annotated[list[str], NoDecode] = ["*"]
    log_json: bool = False

    @field_validator("cors_origins", "trusted_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("trusted_hosts")
    @classmethod
    def _host_patterns(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one host, or * for any")
        for pattern in value:
            if not HOST_PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"{pattern!r} is not a host name, an IP address, *.example.org or *"
                )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        origins = [_as_browsers_send(origin) for origin in value]
        if "*" in origins and len(origins) > 1:
            raise ValueError("* already allows every origin; give it alone or not at all")
        for origin in origins:
            if origin != "*" and not ORIGIN_PATTERN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin such as https://district.example.org"
                )
        return origins

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        return async_database_url(value)

    @model_validator(mode="after")
    def _secret_required_outside_development(self) -> Self:
        secret = self.secret_key.get_secret_value()
        if self.env is Environment.DEVELOPMENT and not secret:
            return self  # signing_key falls back to the public development key
        if not secret:
            raise ValueError(f"REGISTRY_SECRET_KEY is required when REGISTRY_ENV={self.env}")
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"REGISTRY_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long"
            )
        if self.env is Environment.DEVELOPMENT:
            return self
        if secret == DEVELOPMENT_SECRET:
            raise ValueError(
                "REGISTRY_SECRET_KEY is the public development key; "
                f"generate one: {GENERATE_SECRET}"
            )
        if len(set(secret)) < MIN_SECRET_DISTINCT_CHARACTERS:
            raise ValueError(
                f"REGISTRY_SECRET_KEY is too predictable; generate one: {GENERATE_SECRET}"
            )
        return self

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if token and len(token) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} characters long; generate one: "
                f"{GENERATE_SECRET}"
            )
        return value

    @model_validator(mode="after")
    def _match_weights_sum_to_one(self) -> Self:
        # Checked at start-up: a bad sum would otherwise surface only on the first match.
        total = sum(self.match_weights.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"the REGISTRY_MATCH_WEIGHT_* settings must sum to 1, not {total:g}")
        return self

    @property
    def match_weights(self) -> dict[str, float]:
        """``{component: weight}``, named as the engine's components."""
        prefix = "match_weight_"
        return {
            name.removeprefix(prefix): getattr(self, name)
            for name in type(self).model_fields
            if name.startswith(prefix)
        }

    @property
    def signing_key(self) -> str:
        """The key that signs tokens and API-key hashes; never log or print it."""
        return self.secret_key.get_secret_value() or DEVELOPMENT_SECRET

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def async_database_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver ourselves."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        # Never echo the value: it may hold a password.
        raise ValueError("not a database URL; expected sqlite:///PATH or postgresql://...")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"expected a sqlite:/// or postgresql:// URL, not {scheme}://")


class ConfigurationError(Exception):
    """Raised with a one-line, human-readable explanation of a bad setting."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        name = f"REGISTRY_{where.upper()}" if where else "configuration"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigurationError(f"invalid {name}: {message}") from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
