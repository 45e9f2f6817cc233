"""Settings fail fast with one line; the CLI migrates, seeds idempotently and makes admins."""

import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.core import middleware
from app.core.config import DEVELOPMENT_SECRET, ConfigurationError, Environment, load_settings
from app.main import create_app
from seed.loader import SYSTEM
from tests.conftest import TEST_SECRET, backend, make_settings
from tests.factories import make_actor

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = [str(Path(sys.executable).parent / "registry")]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"REGISTRY_ENV": "production"}, "REGISTRY_SECRET_KEY is required"),
        ({"REGISTRY_ENV": "test"}, "REGISTRY_SECRET_KEY is required when REGISTRY_ENV=test"),
        (
            {"REGISTRY_ENV": "production", "REGISTRY_SECRET_KEY": DEVELOPMENT_SECRET},
            "the public development key",
        ),
        ({"REGISTRY_ENV": "production", "REGISTRY_SECRET_KEY": "x" * 64}, "too predictable"),
        (
            {"REGISTRY_ENV": "production", "REGISTRY_SECRET_KEY": "secret12" * 5},
            "too predictable",
        ),
        ({"REGISTRY_ENV": "production", "REGISTRY_SECRET_KEY": "s3cret"}, "at least 32"),
        ({"REGISTRY_ENV": "staging"}, "invalid REGISTRY_ENV"),
        ({"REGISTRY_DATABASE_URL": "mysql://db/x"}, "invalid REGISTRY_DATABASE_URL"),
        ({"REGISTRY_SECRET_KEY": "short"}, "at least 32 characters"),
        ({"REGISTRY_ACCESS_TOKEN_MINUTES": "zero"}, "invalid REGISTRY_ACCESS_TOKEN_MINUTES"),
    ],
)
def test_misconfiguration_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_production_starts_with_a_generated_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_ENV", "production")
    monkeypatch.setenv("REGISTRY_SECRET_KEY", TEST_SECRET)
    settings = load_settings()
    assert settings.env is Environment.PRODUCTION
    assert settings.signing_key == TEST_SECRET


DB_PASSWORD = "hunter2-database-password"


@pytest.mark.parametrize(
    ("environment", "secret"),
    [
        ({"REGISTRY_SECRET_KEY": "a-secret-that-is-too-short"}, "a-secret-that-is-too-short"),
        ({"REGISTRY_DATABASE_URL": f"registry:{DB_PASSWORD}@db/registry"}, DB_PASSWORD),
        ({"REGISTRY_DATABASE_URL": f"mysql://registry:{DB_PASSWORD}@db/x"}, DB_PASSWORD),
    ],
)
def test_misconfiguration_never_echoes_a_secret(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], secret: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert secret not in str(error.value)


def test_settings_never_show_their_secrets() -> None:
    settings = make_settings(f"postgresql+psycopg://registry:{DB_PASSWORD}@db/registry")
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert TEST_SECRET not in shown
    for shown in (repr(settings), str(settings)):
        assert DB_PASSWORD not in shown
    assert settings.signing_key == TEST_SECRET


async def test_the_request_log_never_carries_credentials(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "a-password-nobody-may-log"
    actor = await make_actor(app, "state_reviewer", password=password)
    lines: list[tuple[str, dict[str, object]]] = []

    class Recorder:
        def info(self, event: str, **fields: object) -> None:
            lines.append((event, fields))

    monkeypatch.setattr(middleware, "log", Recorder())
    me = await client.get("/v1/users/me", headers=actor.headers)
    signed_in = await client.post(
        "/v1/auth/token", data={"username": me.json()["email"], "password": password}
    )
    token = signed_in.json()["access_token"]
    await client.get("/v1/users/me?access_token=x", headers={"Authorization": f"Bearer {token}"})
    await client.get("/v1/users/me", headers={"Authorization": "Bearer rk_not-a-real-key"})
    assert len(lines) == 4
    for event, fields in lines:
        assert event == "request"
        assert set(fields) == {"method", "path", "status", "ms", "request_id"}
        logged = repr(fields)
        for secret in (password, actor.key, token, "rk_not-a-real-key", "access_token"):
            assert secret not in logged


def test_plain_database_urls_get_async_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings().database_url == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("REGISTRY_DATABASE_URL", "sqlite:///./x.db")
    assert load_settings().database_url == "sqlite+aiosqlite:///./x.db"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        REGISTRY + args,
        cwd=ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(backend() != "sqlite", reason="the CLI's errors, once, on scratch SQLite files")
def test_the_cli_refuses_in_one_line(tmp_path: Path) -> None:
    """What an operator gets wrong (an unmigrated or unreachable database, a file that is no
    export, a port that does not exist) is one line on stderr and a non-zero exit."""
    unmigrated = {"REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    nowhere = {"REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}"}
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    refusals = [
        (_run(["seed"], unmigrated), 1, "no such table"),
        (_run(["migrate"], nowhere), 1, "unable to open database file"),
        (_run(["wwc-agreement", str(empty)], unmigrated), 1, "missing columns"),
        (_run(["import-wwc", str(empty)], unmigrated), 1, "no such table"),
        (_run(["serve", "--port", "70000"], unmigrated), 2, "65535"),
    ]
    for result, code, cause in refusals:
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        assert cause in result.stderr


@pytest.mark.skipif(backend() != "sqlite", reason="the embedded database's own case")
def test_serve_stops_when_its_port_is_taken(tmp_path: Path) -> None:
    """An aiosqlite connection the match index's warm-up still held kept the process alive
    after uvicorn had given up on the port: `make run` hung instead of saying why."""
    env = {"REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    assert _run(["migrate"], env).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(["serve", "--port", str(port)], env)
    assert result.returncode != 0
    assert "address already in use" in result.stderr.lower()


def test_the_app_refuses_to_start_misconfigured() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=ROOT,
        env=os.environ | {"REGISTRY_ENV": "production", "REGISTRY_SECRET_KEY": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "REGISTRY_SECRET_KEY" in result.stderr


@pytest.mark.skipif(
    backend() != "sqlite", reason="the CLI round trip runs once, on a scratch SQLite file"
)
def test_cli_migrate_seed_and_create_admin(tmp_path: Path) -> None:
    env = {
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "REGISTRY_ENV": "development",
        "REGISTRY_SECRET_KEY": TEST_SECRET,
    }
    assert _run(["migrate"], env).returncode == 0
    first = _run(["seed"], env)
    assert first.returncode == 0, first.stderr
    assert "12 partners" in first.stdout
    assert "3 needs_profiles" in first.stdout
    again = _run(["seed"], env)
    assert "0 partners" in again.stdout
    assert "0 needs_profiles" in again.stdout
    assert "0 users" in again.stdout

    made = _run(["create-admin", "--email", "Chief@Example.org"], env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("rk_")
    reused = _run(["create-admin", "--email", "chief@example.org"], env)
    assert "reusing" in reused.stdout
    assert reused.stdout.strip().splitlines()[-1] != key
    bad = _run(["create-admin", "--email", "not-an-email"], env)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    for result in (first, again, made, reused, bad):
        assert TEST_SECRET not in result.stdout + result.stderr

    async def read_with_key() -> tuple[int, list[int], list[int | None]]:
        app = create_app(
            make_settings(env["REGISTRY_DATABASE_URL"].replace("sqlite://", "sqlite+aiosqlite://"))
        )
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/users/me", headers=headers)
            engagements = (await client.get("/v1/engagements", headers=headers)).json()["items"]
            check_ins = [
                len(
                    (
                        await client.get(f"/v1/engagements/{item['id']}/check-ins", headers=headers)
                    ).json()["items"]
                )
                for item in engagements
            ]
            riverbend = (await client.get("/v1/districts?nces_id=0100001", headers=headers)).json()
            needs = await client.get(
                f"/v1/districts/{riverbend['items'][0]['id']}/needs", headers=headers
            )
            plan = next(p for p in needs.json()["items"] if p["funding_source"] == "title_i_1003")
            match = await client.post("/v1/matches", json={"needs_id": plan["id"]}, headers=headers)
            tiers = [
                need["tier"]
                for result in match.json()["results"]
                for need in result["needs"]
                if need["covered"]
            ]
        await app.state.database.dispose()
        return response.status_code, sorted(check_ins), tiers

    import asyncio

    status, check_ins, tiers = asyncio.run(read_with_key())
    # The demo's engagements, with their check-ins, went in through the services once.
    assert (status, check_ins) == (200, [0, 2, 2, 3])
    # A stored demo needs profile is matched as it stands, section 1003 rule included.
    assert tiers
    assert all(tier is not None and tier <= 3 for tier in tiers)

    # The command, not the admin, made the user and its keys, as the trail records.
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        actors = connection.execute(
            "SELECT DISTINCT action, actor_id FROM audit_events"
            " WHERE action IN ('user.created', 'api_key.created')"
        ).fetchall()
        connection.execute("UPDATE users SET is_active = 0 WHERE email = 'chief@example.org'")
    assert {(action, uuid.UUID(actor)) for action, actor in actors} == {
        ("user.created", SYSTEM.user_id),
        ("api_key.created", SYSTEM.user_id),
    }
    deactivated = _run(["create-admin", "--email", "chief@example.org"], env)
    assert deactivated.returncode == 1
    assert deactivated.stderr.count("\n") == 1
    assert "is deactivated" in deactivated.stderr


async def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    unreachable = create_app(make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    unmigrated = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    for app in (unreachable, unmigrated):
        await _expect_unready(app)


async def _expect_unready(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.get("/readyz")
        assert (await client.get("/healthz")).status_code == 200
    await app.state.database.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
