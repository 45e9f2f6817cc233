"""Property-based requests over the committed OpenAPI spec, as every role and anonymously.

Every generated request is sent once per role; none may produce a server error, and every
answer must match the documented responses and their schemas.
"""

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from app.core.config import Settings
from app.main import create_app
from tests.factories import Actors, make_actor

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def fuzz_target(settings: Settings) -> tuple[FastAPI, dict[str, dict[str, str]]]:
    """A separate app instance: schemathesis drives it from its own event loop."""
    app = create_app(settings)

    async def prepare() -> dict[str, dict[str, str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            admin = await make_actor(app, "state_admin")
            actors = await Actors.create(app, client, admin)
        await app.state.database.dispose()
        return {role: actor.headers for role, actor in actors.by_role().items()} | {"anonymous": {}}

    return app, asyncio.run(prepare())


@pytest.fixture(scope="module")
def api_schema(fuzz_target: tuple[FastAPI, dict[str, dict[str, str]]]) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_path(COMMITTED)
    schema.app = fuzz_target[0]
    return schema


OPERATIONS = sorted(
    (method, path)
    for path, operations in json.loads(COMMITTED.read_text())["paths"].items()
    for method in operations
)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors_for_any_role(
    api_schema: schemathesis.BaseSchema,
    fuzz_target: tuple[FastAPI, dict[str, dict[str, str]]],
    method: str,
    path: str,
) -> None:
    role_headers = fuzz_target[1]

    @given(case=api_schema[path][method].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def requests_as_every_role(case: schemathesis.Case) -> None:
        for headers in role_headers.values():
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

    requests_as_every_role()
