from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.main import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="session")
async def strict_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app on the same database, with sign-in limits small enough to reach quickly.

    Every failed sign-in costs a password hash on purpose, so the defaults (5 per account,
    20 per client) would make the throttle tests slow.
    """
    app = create_app(
        make_settings(
            settings.database_url,
            sign_in_max_failures_per_account=3,
            sign_in_max_failures_per_client=4,
        )
    )
    yield app
    await app.state.database.dispose()
