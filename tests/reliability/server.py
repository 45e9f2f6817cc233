"""The real server as a subprocess, and plain database connections to look behind it.

Reliability tests talk to `registry serve` over TCP, so requests run in parallel on separate
database connections (and, with several workers, in separate processes), and a crash is a
real SIGKILL of a real process.
"""

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from app.core.config import async_database_url
from app.core.db import Database
from app.core.migrations import upgrade
from app.main import create_app
from seed.loader import load_reference
from tests.conftest import TEST_METRICS_TOKEN, TEST_SECRET, make_settings
from tests.factories import make_actor

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = str(Path(sys.executable).parent / "registry")
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def plain_url(database_url: str) -> str:
    """``sqlite:///PATH`` or ``postgresql://...``: what people (and the CLI) are given."""
    url = make_url(database_url)
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=False)


def environment(database_url: str, workdir: Path) -> dict[str, str]:
    return os.environ | {
        "REGISTRY_DATABASE_URL": plain_url(database_url),
        "REGISTRY_ENV": "test",
        "REGISTRY_SECRET_KEY": TEST_SECRET,
        "REGISTRY_METRICS_TOKEN": TEST_METRICS_TOKEN,
        "REGISTRY_STORAGE_ROOT": str(workdir / "storage"),
    }


def migrate(database_url: str) -> None:
    """What `registry migrate` does, run here, where the app's imports are already paid for."""
    url = async_database_url(database_url)
    upgrade(url)

    async def reference() -> None:
        database = Database(make_settings(url))
        async with database.sessions() as session, session.begin():
            await load_reference(session)
        await database.dispose()

    asyncio.run(reference())


async def admin_key(database_url: str) -> str:
    """An API key of a new state_admin, as `registry create-admin` prints one."""
    app = create_app(make_settings(async_database_url(database_url)))
    admin = await make_actor(app, "state_admin")
    await app.state.database.dispose()
    return admin.key


def registry(args: Sequence[str], database_url: str, workdir: Path) -> str:
    """Run a `registry` command to completion; its stdout."""
    result = subprocess.run(
        [REGISTRY, *args],
        cwd=workdir,  # no stray .env
        env=environment(database_url, workdir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class LiveServer:
    """`registry serve` on a free port; stop() ends it gracefully, kill() with SIGKILL."""

    def __init__(self, database_url: str, workdir: Path, *, workers: int = 1) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.workers = workers
        self.log = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> "LiveServer":
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as log:
            # A session of its own: the group id is the process id, so a kill reaches the
            # workers of a multi-worker server too, and nothing else.
            self.process = subprocess.Popen(
                [REGISTRY, "serve", "--port", str(port), "--workers", str(self.workers)],
                cwd=self.workdir,
                env=environment(self.database_url, self.workdir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited at start-up:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(f"the server was not ready in {START_TIMEOUT:.0f} s:\n{self.output()}")

    def _signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no rollback, no flush; as a power cut is to a process."""
        assert self.process is not None
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def assert_no_server_errors(self) -> None:
        output = self.output()
        assert "unhandled_error" not in output, output
        assert "Traceback" not in output, output


@contextmanager
def running(server: LiveServer) -> Iterator[LiveServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one statement, on a connection of its own (``?`` placeholders)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        with closing(sqlite3.connect(url.database, timeout=10)) as connection:
            return connection.execute(sql, params).fetchall()
    with psycopg.connect(plain_url(database_url), autocommit=True) as connection:
        return connection.execute(sql.replace("?", "%s"), params).fetchall()


def scalar(database_url: str, sql: str, *params: Any) -> Any:
    return query(database_url, sql, *params)[0][0]
