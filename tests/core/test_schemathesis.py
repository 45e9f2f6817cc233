"""Property-based requests over the committed OpenAPI spec, as every role and anonymously.

Every answer goes through all of schemathesis' default checks: no server error; status code,
content type, headers and body as documented; schema-invalid requests refused and schema-valid
ones accepted; authentication enforced; a method the spec does not list answered 405 with a true
`Allow`. The cases come from the phases the schemathesis CLI runs by default, driven by hand
(its pytest plugin does not load under pytest 9):

- fuzzing: random positive and negative cases, each sent once per role (see `callers`);
- coverage: boundary values, one invalid part at a time, missing parameters and undocumented
  methods, each case sent as one role in turn (there are hundreds per operation).

The stateful checks (`use_after_free`, `ensure_resource_availability`,
`object_level_authorization`) compare related requests of a stateful run; on these single
requests they have nothing to compare and pass.
"""

import asyncio
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CheckContext
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.core.config import Settings
from app.main import create_app
from tests.factories import Actors, make_actor

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "25"))
SPEC = json.loads(COMMITTED.read_text())
OPERATIONS = sorted((method, path) for path, item in SPEC["paths"].items() for method in item)
# Negative cases need something to make invalid: a parameter or a body.
WITH_INPUT = [
    (method, path)
    for method, path in OPERATIONS
    if SPEC["paths"][path][method].get("parameters")
    or SPEC["paths"][path][method].get("requestBody")
]

# The upload takes the raw bytes whatever the client calls them; schemathesis has no PDF writer.
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


class Refusal(NamedTuple):
    operation: str  # "POST /v1/partners", or "*" for any
    loc: str  # the error's location, dotted, with "*" for list positions; "*" for any
    type: str
    message: str = ""  # a part of the message, for a type as general as value_error


# Schema-valid requests that the API refuses with 422 for a rule a JSON Schema cannot state:
# references to data, and rules across fields. For these, and only these, 422 passes the
# `positive_data_acceptance` check; a 422 to any other schema-valid request is a defect.
BEYOND_THE_SCHEMA: dict[Refusal, str] = {
    Refusal("*", "query.cursor", "cursor_invalid"): "a cursor is one this list issued",
    Refusal("*", "*", "need_domain_unknown"): "need domains are data (POST /v1/need-domains)",
    Refusal("*", "body.standards_rating", "rating_does_not_fit_design"): (
        "a study that cannot show cause (design) cannot meet WWC standards (standards_rating)"
    ),
    Refusal("POST /v1/need-domains", "body.parent", "value_error", "No need domain"): "ditto",
    Refusal("POST /v1/api-keys", "body.user_id", "value_error", "No such active user"): "data",
    Refusal("POST /v1/users", "body.district_id", "value_error", "district"): (
        "a district user, and only one, names an existing district"
    ),
    Refusal("POST /v1/users", "body.partner_id", "value_error", "partner"): (
        "a partner user, and only one, names an existing partner"
    ),
    Refusal("*", "*", "value_error", "special-use or reserved name"): (
        "`format: email` admits addresses at reserved names (.test, .invalid) that take no mail"
    ),
    Refusal(
        "POST /v1/partners", "body.cost_per_school_year", "value_error", "min must not exceed max"
    ): "min <= max",
    Refusal("POST /v1/rubrics", "body.scale", "value_error", "min must be below max"): "min < max",
    Refusal("POST /v1/rubrics", "body", "value_error", "criterion codes must be unique"): (
        "uniqueItems compares whole criteria, not their codes"
    ),
    Refusal("POST /v1/engagements", "body", "value_error", "end_date must not be before"): (
        "end_date >= start_date"
    ),
    Refusal("POST /v1/matches", "body", "value_error", "needs_id"): (
        "either needs_id, or district_id with a profile inline"
    ),
    Refusal("POST /v1/matches", "body", "value_error", "an inline profile needs"): "ditto",
    Refusal("POST /v1/matches", "body.needs", "value_error", "each need domain may appear once"): (
        "uniqueItems compares whole needs, not their need domains"
    ),
}

Roles = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def fuzz_target(settings: Settings) -> tuple[FastAPI, Roles]:
    """A separate app instance: schemathesis drives it from its own event loop."""
    app = create_app(settings)

    async def prepare() -> Roles:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            admin = await make_actor(app, "state_admin")
            actors = await Actors.create(app, client, admin)
        await app.state.database.dispose()
        return {role: actor.headers for role, actor in actors.by_role().items()} | {"anonymous": {}}

    return app, asyncio.run(prepare())


@pytest.fixture(scope="module")
def api_schema(fuzz_target: tuple[FastAPI, Roles]) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_path(COMMITTED)
    schema.app = fuzz_target[0]
    # Credentials are the roles' own (or none); generated bearer tokens would only be refused.
    schema.config.generation.update(with_security_parameters=False)
    return schema


@pytest.fixture(autouse=True)
def ready(api_schema: schemathesis.BaseSchema) -> None:
    """Wait for /readyz: 503 is its documented answer until the app's start-up work is done.

    schemathesis' pytest plugin ends the app's lifespan after every test, so each test's first
    request starts it again.
    """
    probe = api_schema["/readyz"]["get"].Case()
    deadline = time.monotonic() + 60
    while probe.call().status_code != 200:
        assert time.monotonic() < deadline, "the app did not become ready within 60 s"
        time.sleep(0.02)


def _beyond_the_schema(case: schemathesis.Case, response: Any) -> bool:
    if response.status_code != 422:
        return False
    try:
        errors = json.loads(response.content)["errors"]
    except (ValueError, KeyError, TypeError):
        return False
    operation = f"{case.method.upper()} {case.operation.path}"

    def explained(error: dict[str, Any]) -> bool:
        loc = ".".join("*" if isinstance(part, int) else str(part) for part in error["loc"])
        return any(
            rule.operation in ("*", operation)
            and rule.loc in ("*", loc)
            and rule.type == error["type"]
            and rule.message in error["msg"]
            for rule in BEYOND_THE_SCHEMA
        )

    return bool(errors) and all(explained(error) for error in errors)


def positive_data_acceptance_within_the_schema(
    ctx: CheckContext, response: Any, case: schemathesis.Case
) -> bool | None:
    """`positive_data_acceptance`, except for the refusals listed in BEYOND_THE_SCHEMA."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _beyond_the_schema(case, response):
            return None
        raise


def send(case: schemathesis.Case, role: str, headers: dict[str, str]) -> None:
    try:
        # A copy: schemathesis adds its own default headers to the dict it is given.
        case.call_and_validate(
            headers=dict(headers),
            excluded_checks=[positive_data_acceptance],
            additional_checks=[positive_data_acceptance_within_the_schema],
        )
    except BaseException as failure:
        failure.add_note(f"Sent as: {role}")
        raise


def callers(roles: Roles, method: str, path: str, mode: str) -> Roles:
    if not SPEC["paths"][path][method].get("security"):
        # Open to anyone and the same for everyone: sign-in, the directory, health.
        return {"anonymous": {}}
    if mode == "negative":
        # Anonymous callers are refused (401) before their input is read.
        return {role: headers for role, headers in roles.items() if role != "anonymous"}
    return roles


def _fuzz(
    api_schema: schemathesis.BaseSchema, roles: Roles, method: str, path: str, mode: str
) -> None:
    roles = callers(roles, method, path, mode)

    @given(case=api_schema[path][method].as_strategy(generation_mode=GenerationMode(mode)))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def every_role(case: schemathesis.Case) -> None:
        for role, headers in roles.items():
            send(case, role, headers)

    every_role()


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzzing_positive(
    api_schema: schemathesis.BaseSchema,
    fuzz_target: tuple[FastAPI, Roles],
    method: str,
    path: str,
) -> None:
    _fuzz(api_schema, fuzz_target[1], method, path, "positive")


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), WITH_INPUT)
def test_fuzzing_negative(
    api_schema: schemathesis.BaseSchema,
    fuzz_target: tuple[FastAPI, Roles],
    method: str,
    path: str,
) -> None:
    _fuzz(api_schema, fuzz_target[1], method, path, "negative")


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_coverage(
    api_schema: schemathesis.BaseSchema,
    fuzz_target: tuple[FastAPI, Roles],
    method: str,
    path: str,
) -> None:
    operation = api_schema[path][method]
    cases = api_schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=api_schema.config.generation_for(operation=operation, phase="coverage"),
    )
    roles = callers(fuzz_target[1], method, path, "coverage")
    for case, (role, headers) in zip(cases, itertools.cycle(roles.items()), strict=False):
        send(case, role, headers)
