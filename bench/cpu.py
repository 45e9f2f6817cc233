"""`make bench-cpu`: what each benched request costs the app itself, called in process.

`make bench` measures the service as clients see it, but on a shared two-core machine its
throughput moves by a fifth between runs of the same code. This sends the same requests, with
the same API key and against the same database, straight to the ASGI app, one at a time, and
reports the CPU time the process spent per request: no HTTP server, no wrk, no queueing, and
PostgreSQL's own work not counted. Repeatable to a few percent, so two commits can be compared:

    git worktree add /tmp/base <commit>
    BENCH_APP=/tmp/base make bench-cpu    # then `make bench-cpu` here; alternate a few times

Environment (the bench database is built as `make bench` builds it):

    BENCH_POSTGRES_URL  as for `make bench`
    BENCH_REQUESTS      requests per endpoint (default 2000; at most 100000), after 50 unmeasured
    BENCH_ONLY=TEXT     only the endpoints whose name contains TEXT (and /healthz)
    BENCH_APP=PATH      measure the app of another checkout (default: this one)
"""

import asyncio
import contextlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from run import (
    DEFAULT_URL,
    FIXTURES,
    ROOT,
    _bounded,
    app_environment,
    ensure_database,
    load_data,
    say,
    workload,
)

WARM_UP_REQUESTS = 50
Scope = dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    body: bytes

    @classmethod
    def parse(cls, line: str) -> "Request":
        """A line of `run.workload`: ``METHOD PATH[?QUERY] [JSON BODY]``."""
        method, target, *body = line.split(" ", 2)
        path, _, query = target.partition("?")
        return cls(method, path, query, body[0].encode() if body else b"")

    def scope(self, token: str) -> Scope:
        headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
        if self.body:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(self.body)).encode()),
            ]
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": self.query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8765),
        }


async def call(app: Any, request: Request, token: str) -> int:
    """Run one request through the app; its status."""
    statuses: list[int] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # only a streaming response listens past the body: never here
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(request.scope(token), receive, send)
    return statuses[0]


async def measure(
    app: Any, requests: list[Request], token: str, count: int
) -> tuple[float, float, int]:
    """CPU and wall milliseconds per request over ``count`` requests, and how many failed."""
    chosen = random.Random(7919)
    for _ in range(WARM_UP_REQUESTS):
        await call(app, chosen.choice(requests), token)
    failed = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        status = await call(app, chosen.choice(requests), token)
        failed += not 200 <= status < 300
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu * 1000 / count, wall * 1000 / count, failed


@contextlib.asynccontextmanager
async def started(app_root: Path) -> AsyncIterator[Any]:
    """The app of ``app_root``, started, with its match index loaded and its request log quiet."""
    import app.main as entry  # after the environment names the bench database and checkout

    if not Path(entry.__file__).is_relative_to(app_root):
        raise SystemExit(f"bench: imported {entry.__file__}, not the app of {app_root}")
    app = entry.create_app()
    # The request log would be most of the output and part of what is measured.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    async with app.router.lifespan_context(app):
        # As /readyz does: the index only says whether it is still loading.
        while app.state.match_index.warming:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        yield app


async def bench(work: list[tuple[str, list[str], str]], count: int, app_root: Path) -> list[str]:
    rows = [f"{'endpoint':<28}{'CPU ms':>9}{'wall ms':>9}{'failed':>8}{'vs /healthz':>13}"]
    async with started(app_root) as app:
        baseline = None
        for name, lines, token in work:
            say(f"{name}: {count} requests")
            cpu, wall, failed = await measure(app, [Request.parse(x) for x in lines], token, count)
            baseline = baseline or cpu
            rows.append(f"{name:<28}{cpu:>9.3f}{wall:>9.3f}{failed:>8}{cpu / baseline:>12.1f}x")
            if failed:
                raise SystemExit("\n".join([*rows, f"bench: {name} answered {failed} non-2xx"]))
    return rows


def in_process() -> tuple[str, Path]:
    """Make this process the app's, as a worker on the bench database (loaded if absent), with
    `BENCH_APP`'s checkout first on the import path: the database URL and that checkout."""
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    app_root = Path(os.environ.get("BENCH_APP", ROOT)).resolve()
    ensure_database(url, fresh=False)
    env = app_environment(url)
    load_data(env, url)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(app_root))
    return url, app_root


def main() -> None:
    count = _bounded("BENCH_REQUESTS", 2000, 100_000)
    _url, app_root = in_process()
    only = os.environ.get("BENCH_ONLY", "")
    fixtures = json.loads(FIXTURES.read_text())
    work = [item for item in workload(fixtures, True) if only in item[0] or "healthz" in item[0]]
    say(f"the app of {app_root}, called in process, one request at a time")
    print("\n".join(asyncio.run(bench(work, count, app_root))))


if __name__ == "__main__":
    main()
