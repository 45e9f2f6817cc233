"""Tests run against a database built by `alembic upgrade head`, through the real app.

`REGISTRY_TEST_DATABASE=sqlite` (default) uses a fresh file per run; `postgresql` uses the
database named by `REGISTRY_TEST_POSTGRES_URL` (default `registry_test` on the local server),
dropped and created anew at the start of the run. Tests share the database and isolate
themselves by creating their own uniquely named data.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from app.core.config import Environment, Settings, async_database_url
from app.core.migrations import upgrade
from app.main import create_app
from seed.loader import load_reference
from tests.factories import Actor, Actors, make_actor

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
TEST_METRICS_TOKEN = "metrics-token-used-by-the-tests-only-0123456789"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/registry_test"


def backend() -> str:
    return os.environ.get("REGISTRY_TEST_DATABASE", "sqlite")


def _recreate_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin_url = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{parsed.database}"')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if backend() == "postgresql":
        url = os.environ.get("REGISTRY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        _recreate_postgres_database(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'registry.db'}"
    return async_database_url(url)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "storage_root": Path(os.environ.get("TMPDIR", "/tmp")) / "registry-test-storage",
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    upgrade(database_url)
    settings = make_settings(database_url)

    async def reference() -> None:
        from app.core.db import Database

        database = Database(settings)
        async with database.sessions() as session, session.begin():
            await load_reference(session)
        await database.dispose()

    asyncio.run(reference())
    return database_url


@pytest.fixture(scope="session")
def settings(migrated: str) -> Settings:
    return make_settings(migrated)


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.database.dispose()


@pytest.fixture(scope="session")
async def admin(app: FastAPI) -> Actor:
    return await make_actor(app, "state_admin")


@pytest.fixture
async def actors(app: FastAPI, client: httpx.AsyncClient, admin: Actor) -> Actors:
    """One fresh actor per role, with a district and a partner of their own."""
    return await Actors.create(app, client, admin)
