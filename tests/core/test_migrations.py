"""Migrations run both ways on the test's own database, and agree with the models."""

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.migrations import downgrade, upgrade
from app.models import Base
from tests.conftest import backend


@pytest.fixture
def scratch_url(tmp_path, database_url: str) -> str:
    if backend() == "postgresql":
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(database_url).set(database=f"{make_url(database_url).database}_migrations")
        admin = url.set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False
        )
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{url.database}"')
        return url.render_as_string(hide_password=False)
    return f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"


def _differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            found = await connection.run_sync(compare)
        await engine.dispose()
        return found

    return asyncio.run(run())


# SQLite cannot reflect an index on an expression: the trigram indexes, PostgreSQL's alone
# (migration 0009), are compared on PostgreSQL only.
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index:UserWarning"
)
def test_upgrade_downgrade_upgrade_and_models_match(scratch_url: str) -> None:
    upgrade(scratch_url)
    downgrade(scratch_url, "base")
    upgrade(scratch_url)
    assert _differences(scratch_url) == []
