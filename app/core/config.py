"""Settings from the environment (prefix ``REGISTRY_``) and an optional ``.env`` file."""

import math
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGISTRY_", env_file=".env", extra="ignore", frozen=True
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./registry.db"
    secret_key: str = ""

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

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        return async_database_url(value)

    @model_validator(mode="after")
    def _secret_required_in_production(self) -> Self:
        if self.secret_key and len(self.secret_key) < 32:
            raise ValueError("REGISTRY_SECRET_KEY must be at least 32 characters long")
        if not self.secret_key and self.env is Environment.PRODUCTION:
            raise ValueError("REGISTRY_SECRET_KEY is required when REGISTRY_ENV=production")
        return self

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
        return self.secret_key or DEVELOPMENT_SECRET

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def async_database_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver ourselves."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
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
