"""SIGKILL in the middle of work: what was acknowledged survives, nothing half-done shows.

Each test uses a database of its own, built by `registry migrate` (a SQLite file, or on
PostgreSQL a database named after the test database with ``_crash`` appended), and kills a
real process: the `registry import-wwc` bulk import halfway through its insert, and
`registry serve` while clients stream writes at it. After the restart every write that got
its 2xx is there with its audit event, and nothing of an unfinished one is.
"""

import asyncio
import csv
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import DEFAULT_POSTGRES_URL, backend
from tests.factories import partner_payload, unique
from tests.reliability.server import (
    REGISTRY,
    LiveServer,
    admin_key,
    environment,
    migrate,
    plain_url,
    query,
    registry,
    scalar,
)

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "wwc_sample.csv"
# The sample, copied under fresh WWC ids: an export whose insert takes a second or two, long
# enough to be caught in the middle of it.
COPIES = 8
ID_COLUMNS = (
    "ReviewID",
    "s_StudyID",
    "f_FindingID",
    "s_interventionID",
    "i_InterventionID",
    "f_InterventionID",
)
WRITERS = 4
ACKNOWLEDGED_BEFORE_KILL = 40
FACETS_PER_PARTNER = 6  # partner_payload: 2 need domains, 1 each of the other four facets


def _postgres_admin(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """An empty database for one test; on PostgreSQL one this suite creates and drops."""
    if backend() != "postgresql":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    base = make_url(os.environ.get("REGISTRY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    url = plain_url(base.set(database=f"{base.database}_crash").render_as_string(False))
    name = make_url(url).database
    with psycopg.connect(_postgres_admin(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    yield url
    with psycopg.connect(_postgres_admin(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def assert_database_intact(url: str) -> None:
    if make_url(url).get_backend_name() == "sqlite":
        assert query(url, "PRAGMA integrity_check") == [("ok",)]
        assert query(url, "PRAGMA foreign_key_check") == []


def writing(url: str) -> bool:
    """Whether another connection is in the middle of an uncommitted write."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        connection = sqlite3.connect(parsed.database, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            return True
        else:
            connection.execute("ROLLBACK")
            return False
        finally:
            connection.close()
    return bool(
        scalar(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
        )
    )


def caught_writing(url: str) -> bool:
    """Writing now and still a moment later: well inside the insert, not at its last statement."""
    if not writing(url):
        return False
    time.sleep(0.2)
    return writing(url)


def larger_export(path: Path) -> Path:
    with SAMPLE.open(newline="") as source:
        reader = csv.DictReader(source)
        rows = list(reader)
        fields = reader.fieldnames
    assert fields is not None
    with path.open("w", newline="") as target:
        writer = csv.DictWriter(target, fields)
        writer.writeheader()
        for copy in range(COPIES):
            for row in rows:
                ids = {column: f"{row[column]}{copy:03d}" for column in ID_COLUMNS if row[column]}
                writer.writerow(row | ids)
    return path


def import_counts(url: str) -> dict[str, int]:
    return {
        "evidence": scalar(url, "SELECT count(*) FROM evidence WHERE source = 'wwc'"),
        "findings": scalar(
            url,
            "SELECT count(*) FROM evidence_findings WHERE evidence_id IN"
            " (SELECT id FROM evidence WHERE source = 'wwc')",
        ),
        "partners": scalar(url, "SELECT count(*) FROM partners"),
        "imported_partners": scalar(url, "SELECT count(*) FROM imported_partners"),
        "tiers": scalar(url, "SELECT count(*) FROM partner_evidence_tiers"),
        "audit": scalar(
            url, "SELECT count(*) FROM audit_events WHERE action = 'evidence.wwc_imported'"
        ),
    }


def test_an_import_killed_midway_leaves_nothing_and_runs_again_whole(
    fresh_database: str, tmp_path: Path
) -> None:
    url = fresh_database
    migrate(url)
    export = larger_export(tmp_path / "export.csv")
    importer = subprocess.Popen(
        [REGISTRY, "import-wwc", str(export)],
        cwd=tmp_path,
        env=environment(url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not caught_writing(url):
            assert importer.poll() is None, importer.communicate()[0]
            assert time.monotonic() < deadline, "the import never started writing"
            time.sleep(0.02)
    finally:
        if importer.poll() is None:
            os.killpg(importer.pid, signal.SIGKILL)
        output = importer.communicate(timeout=10)[0].decode()
    assert importer.returncode == -signal.SIGKILL, output

    # All or nothing: the import is one transaction, and it never committed.
    assert import_counts(url) == dict.fromkeys(import_counts(url), 0)
    assert_database_intact(url)

    # Run again, it imports everything anew: nothing of the killed run counts as done.
    output = registry(["import-wwc", str(export)], url, tmp_path)
    found = re.search(
        r"imported (\d+) evidence records \((\d+) findings\) and (\d+) partners from (\d+) WWC "
        r"study reviews; 0 already imported",
        output,
    )
    assert found, output
    records, findings, partners, studies = map(int, found.groups())
    assert records == studies > 0
    assert findings == COPIES * 308
    counts = import_counts(url)
    assert counts | {"tiers": 0} == {
        "evidence": records,
        "findings": findings,
        "partners": partners,
        "imported_partners": partners,
        "tiers": 0,
        "audit": 1,
    }
    assert counts["tiers"] > 0
    assert_database_intact(url)


async def test_a_server_killed_mid_stream_keeps_every_acknowledged_write(
    fresh_database: str, tmp_path: Path
) -> None:
    url = fresh_database
    await asyncio.to_thread(migrate, url)
    headers = {"Authorization": f"Bearer {await admin_key(url)}"}
    prefix = unique("Crash")
    server = LiveServer(url, tmp_path)

    acknowledged: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # key: payload, body
    unacknowledged: dict[str, dict[str, Any]] = {}  # key: payload (in flight at the kill)
    updates: list[int] = []  # the versions the updater was told it wrote
    enough = asyncio.Event()

    def progress() -> None:
        if len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL and len(updates) >= 5:
            enough.set()

    try:
        await asyncio.to_thread(server.start)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            tracked = await client.post(
                "/v1/partners",
                json=partner_payload(name=f"{prefix}-tracked", capacity=1),
                headers=headers,
            )
            assert tracked.status_code == 201, tracked.text
            tracked_url = f"/v1/partners/{tracked.json()['id']}"

            async def create() -> None:
                """Create partners one after another, each with its own Idempotency-Key."""
                while True:
                    idempotency_key = unique("idem")
                    payload = partner_payload(name=f"{prefix}-{unique()}")
                    try:
                        response = await client.post(
                            "/v1/partners",
                            json=payload,
                            headers=headers | {"Idempotency-Key": idempotency_key},
                        )
                    except httpx.TransportError:
                        unacknowledged[idempotency_key] = payload
                        return
                    assert response.status_code == 201, response.text
                    acknowledged[idempotency_key] = (payload, response.json())
                    progress()

            async def update() -> None:
                """Bump one partner's capacity so that it always equals its version."""
                version = 1
                while True:
                    try:
                        response = await client.patch(
                            tracked_url,
                            json={"capacity": version + 1},
                            headers=headers | {"If-Match": f'"{version}"'},
                        )
                    except httpx.TransportError:
                        return
                    assert response.status_code == 200, response.text
                    version = response.json()["version"]
                    updates.append(version)
                    progress()

            async def kill() -> None:
                await enough.wait()
                await asyncio.to_thread(server.kill)

            await asyncio.wait_for(
                asyncio.gather(kill(), update(), *(create() for _ in range(WRITERS))), timeout=60
            )
        assert len(unacknowledged) == WRITERS

        assert_database_intact(url)
        await asyncio.to_thread(server.start)  # the restart, on the same database
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            await check_after_restart(client, headers, acknowledged, unacknowledged)
            tracked_read = (await client.get(tracked_url, headers=headers)).json()
            # The last update either landed whole or not at all; none acknowledged is lost.
            assert tracked_read["version"] in {updates[-1], updates[-1] + 1}
            assert tracked_read["capacity"] == tracked_read["version"]
            trail = await client.get(
                "/v1/audit-events",
                params={
                    "entity_id": tracked_read["id"],
                    "action": "partner.updated",
                    "limit": 200,
                },
                headers=headers,
            )
            assert len(trail.json()["items"]) == tracked_read["version"] - 1
    finally:
        await asyncio.to_thread(server.stop)
    server.assert_no_server_errors()

    # Behind the API: every partner of this stream whole, with its audit event; no idempotency
    # reservation left without the response it stands for.
    partners = query(
        url,
        "SELECT p.id, (SELECT count(*) FROM partner_facets f WHERE f.partner_id = p.id),"
        " (SELECT count(*) FROM audit_events a WHERE a.entity_id = p.id"
        "  AND a.action = 'partner.created')"
        " FROM partners p WHERE p.name LIKE ?",
        f"{prefix}-%",
    )
    assert len(partners) == 1 + len(acknowledged) + len(unacknowledged)
    assert {(facets, events) for _id, facets, events in partners} == {(FACETS_PER_PARTNER, 1)}
    assert scalar(url, "SELECT count(*) FROM idempotent_requests WHERE status_code <> 201") == 0
    assert_database_intact(url)


async def check_after_restart(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    acknowledged: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    unacknowledged: dict[str, dict[str, Any]],
) -> None:
    async def kept(payload: dict[str, Any], body: dict[str, Any]) -> None:
        read = await client.get(f"/v1/partners/{body['id']}", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json() == body
        assert read.json()["name"] == payload["name"]
        trail = await client.get(
            "/v1/audit-events", params={"entity_id": body["id"]}, headers=headers
        )
        assert [event["action"] for event in trail.json()["items"]] == ["partner.created"]

    async def retried(idempotency_key: str, payload: dict[str, Any]) -> None:
        """A client that never heard back retries with its key: one partner, never two."""
        response = await client.post(
            "/v1/partners", json=payload, headers=headers | {"Idempotency-Key": idempotency_key}
        )
        assert response.status_code == 201, response.text
        listed = await client.get("/v1/partners", params={"q": payload["name"]}, headers=headers)
        assert [item["id"] for item in listed.json()["items"]] == [response.json()["id"]]

    await asyncio.gather(
        *(kept(payload, body) for payload, body in acknowledged.values()),
        *(retried(key, payload) for key, payload in unacknowledged.items()),
    )
