"""`make bench`: the registry at national scale, served as in production, driven by wrk.

Uses its own PostgreSQL database (`registry_bench` on the local server; no other is touched),
loads the national data set into it once, serves the app with `registry serve` on 127.0.0.1,
drives each endpoint with wrk over loopback for a bounded time and prints one table. The server
is stopped whatever happens. Environment:

    BENCH_POSTGRES_URL   the bench database (default postgresql://postgres@127.0.0.1:5432/registry_bench)
    BENCH_DURATION       seconds per endpoint (default 15; at most 60), after a 3-second warm-up
    BENCH_CONNECTIONS    concurrent connections (default 32; at most 256)
    BENCH_WORKERS        server worker processes (default: one per core, at most 4)
    BENCH_FRESH=1        drop and rebuild the bench database first
    BENCH_ONLY=TEXT      bench only the endpoints whose name contains TEXT (and /healthz)
"""

import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import threading
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FIXTURES = RESULTS / "fixtures.json"
SECRET = RESULTS / "secret_key"
REGISTRY = ROOT / ".venv" / "bin" / "registry"
HOST, PORT = "127.0.0.1", 8765
BASE = f"http://{HOST}:{PORT}"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/registry_bench"
WARM_UP_SECONDS = 3
THREADS = 2

TARGETS = {  # share of /healthz throughput each endpoint must reach
    "GET /v1/partners/{id}": 0.30,
    "GET /v1/partners?filters": 0.20,
    "POST /v1/matches": 0.10,
}
MATCH_P99_MS = 100
RSS_LIMIT_MB = 500
# Partners marked changed a second during the last match run, as engagements, evidence and
# reviews do in a live registry.
CHANGES_PER_SECOND = 10


def _bounded(name: str, default: int, high: int) -> int:
    return max(1, min(high, int(os.environ.get(name, default))))


def say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def ensure_tool(command: str, package: str) -> str:
    """``command`` from PATH, or ``package`` installed with apt-get on a fresh CI machine."""
    found = shutil.which(command)
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    install = [*sudo, "apt-get", "install", "-y", package]
    say(f"{command} is missing; installing {package} with apt-get")
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update"], check=True)
        subprocess.run(install, check=True)
    found = shutil.which(command)
    if not found:
        raise SystemExit(f"bench: {package} could not be installed")
    return found


def ensure_database(url: str, *, fresh: bool) -> None:
    """The bench database, and the directory for its fixtures, key and results: every bench
    entry point starts here, and any may be the first run in a fresh clone."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = make_url(url).database
    if not name or "bench" not in name:
        raise SystemExit(f"bench: refusing a database whose name lacks 'bench': {name!r}")
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        if fresh:
            say(f"dropping {name} (BENCH_FRESH=1)")
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            FIXTURES.unlink(missing_ok=True)
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() is None:
            say(f"creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')


def secret_key() -> str:
    """One key per checkout: the API keys in the fixtures are hashed with it."""
    if not SECRET.exists():
        SECRET.touch(mode=0o600)
        SECRET.write_text(secrets.token_urlsafe(48))
    return SECRET.read_text().strip()


def app_environment(url: str) -> dict[str, str]:
    """This process's environment for the app, as in production, on the bench database: none
    of the caller's own ``REGISTRY_`` settings."""
    own = {key: value for key, value in os.environ.items() if not key.startswith("REGISTRY_")}
    return own | {
        "REGISTRY_ENV": "production",
        "REGISTRY_DATABASE_URL": url,
        "REGISTRY_SECRET_KEY": secret_key(),
        "REGISTRY_LOG_JSON": "true",
    }


def registry(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(REGISTRY), *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: registry {args[0]} failed:\n{done.stderr or done.stdout}")
    return done.stdout.strip()


def load_data(env: dict[str, str], url: str) -> None:
    say("migrating")
    registry(env, "migrate")
    say("loading the national data set if absent")
    started = time.perf_counter()
    output = registry(env, "generate-national", "--fixtures", str(FIXTURES))
    say(output.splitlines()[0])
    if "nothing done" not in output:
        say(f"loaded in {time.perf_counter() - started:.0f} s; VACUUM ANALYZE")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
    if not FIXTURES.exists():
        raise SystemExit(
            f"bench: the data set is present but {FIXTURES} is not; rerun with BENCH_FRESH=1"
        )


def http(method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)  # noqa: S310
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError):
        return 0, None


class Server:
    """`registry serve` in its own process group, so that stopping it stops every worker."""

    def __init__(self, env: dict[str, str], workers: int) -> None:
        self.log = (RESULTS / "server.log").open("w")
        self.process = subprocess.Popen(
            [
                str(REGISTRY),
                "serve",
                "--host",
                HOST,
                "--port",
                str(PORT),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 120) -> None:
        """Until every worker is ready: each loads its match index first (`/readyz` says 503
        meanwhile), and 20 ready answers in a row are 20 draws among the workers."""
        deadline = time.monotonic() + seconds
        in_a_row = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the server exited; see {self.log.name}")
            in_a_row = in_a_row + 1 if http("GET", "/readyz")[0] == 200 else 0
            if in_a_row == 20:
                return
            time.sleep(0.05 if in_a_row else 0.5)
        raise SystemExit(f"bench: the server was not ready within {seconds:.0f} s")

    def pids(self) -> list[int]:
        """The server's processes: the supervisor and its workers."""
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                queue += [int(child) for child in task.read_text().split()]
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def peak_rss_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM (peak resident set) of each uvicorn process, in MB.

    Helpers of multiprocessing (its resource tracker) are left out: they serve no request.
    """
    peaks = {}
    for pid in pids:
        if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            continue
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1]) / 1024
    return peaks


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU the processes have used so far (a process gone meanwhile counts 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            # The command name may hold spaces; the fields after its closing parenthesis do not.
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine: the backends serving the bench among them."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                found.append(int(comm.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    database_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def server_cpu_ms(self) -> float:
        return self.server_cpu_s * 1000 / max(self.requests, 1)

    @property
    def database_cpu_ms(self) -> float:
        return self.database_cpu_s * 1000 / max(self.requests, 1)


def run_wrk(
    wrk: str, server: "Server", name: str, lines: list[str], token: str, duration: int, conns: int
) -> Result:
    slug = "".join(char if char.isalnum() else "-" for char in name).strip("-")
    requests_file = RESULTS / f"requests-{slug}.txt"
    requests_file.write_text("\n".join(lines) + "\n")
    env = os.environ | {"BENCH_TOKEN": token, "BENCH_REQUESTS": str(requests_file)}
    script = str(ROOT / "bench" / "wrk.lua")

    def wrk_run(seconds: int) -> dict[str, Any]:
        command = [wrk, f"-t{THREADS}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s"]
        done = subprocess.run(
            [*command, "-s", script, BASE],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        )
        line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON "))
        parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
        return parsed

    wrk_run(WARM_UP_SECONDS)
    # The pool keeps its connections, so the backends serving the run exist before it starts.
    server_pids, database_pids = server.pids(), postgres_pids()
    server_before, database_before = cpu_seconds(server_pids), cpu_seconds(database_pids)
    data = wrk_run(duration)
    server_cpu = cpu_seconds(server_pids) - server_before
    database_cpu = cpu_seconds(database_pids) - database_before
    requests_file.unlink()
    return Result(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        server_cpu_s=server_cpu,
        database_cpu_s=database_cpu,
    )


@contextlib.contextmanager
def partners_changing(url: str, partner_ids: list[str]) -> Iterator[None]:
    """A writer marking one partner changed every 1/CHANGES_PER_SECOND s, with a no-op UPDATE
    (the triggers fire, no value changes): each match then brings its worker's index up to
    date first."""
    stop = threading.Event()

    def write() -> None:
        chosen = random.Random(104729)
        with psycopg.connect(url, autocommit=True) as connection:
            while not stop.wait(1 / CHANGES_PER_SECOND):
                connection.execute(
                    "UPDATE partners SET capacity = capacity WHERE id = %s",
                    [chosen.choice(partner_ids)],
                )

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()


def workload(fixtures: dict[str, Any], has_matches: bool) -> list[tuple[str, list[str], str]]:
    token = fixtures["district_key"]
    work = [
        ("GET /healthz", ["GET /healthz"], token),
        (
            "GET /v1/partners/{id}",
            [f"GET /v1/partners/{pid}" for pid in fixtures["partner_ids"]],
            token,
        ),
        (
            "GET /v1/partners?filters",
            [
                f"GET /v1/partners?region={f['region']}&need_domain={f['need_domain']}&limit=50"
                for f in fixtures["list_filters"]
            ],
            token,
        ),
    ]
    if has_matches:
        bodies = [json.dumps({"needs_id": needs_id}) for needs_id in fixtures["needs_ids"]]
        work.append(("POST /v1/matches", [f"POST /v1/matches {body}" for body in bodies], token))
    return work


def probe(work: list[tuple[str, list[str], str]]) -> None:
    """One request of each kind must succeed, or the numbers would measure error paths."""
    for name, lines, token in work:
        method, path, *body = lines[0].split(" ", 2)
        status, _ = http(method, path, token, json.loads(body[0]) if body else None)
        if not 200 <= status < 300:
            raise SystemExit(
                f"bench: {name} answers {status} before the run; if the keys in {FIXTURES} "
                "no longer work, rerun with BENCH_FRESH=1"
            )


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def report(
    results: list[Result],
    unqueued: Result | None,
    changing: Result | None,
    peaks: dict[int, float],
    supervisor: int,
    meta: dict[str, Any],
    *,
    has_matches: bool,
) -> str:
    base = next(result.rps for result in results if result.name == "GET /healthz")
    rows = [
        f"{'endpoint':<26} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'sock err':>8} "
        f"{'vs /healthz':>11} {'target':>7}"
    ]
    for result in results:
        ratio = result.rps / base
        target = TARGETS.get(result.name)
        verdict = "" if target is None else f"{'ok' if ratio >= target else 'MISS'} {target:.0%}"
        rows.append(
            f"{result.name:<26} {result.rps:>8.0f} {result.p50_ms:>8.1f} {result.p99_ms:>8.1f} "
            f"{result.non2xx:>8} {result.socket_errors:>8} {ratio:>11.1%} {verdict:>7}"
        )
    if not has_matches:
        rows.append(f"{'POST /v1/matches':<26} missing: the server has no such route yet")
    rows.append("CPU per request during each run, server processes / every PostgreSQL process:")
    for result in results:
        rows.append(
            f"  {result.name:<24} {result.server_cpu_ms:>6.2f} ms / {result.database_cpu_ms:.2f} ms"
        )
    match = next((r for r in results if r.name == "POST /v1/matches"), None)
    if match is not None:
        verdict = "ok" if match.p99_ms <= MATCH_P99_MS else "MISS"
        rows.append(f"match p99 {match.p99_ms:.1f} ms (target <= {MATCH_P99_MS} ms): {verdict}")
    if unqueued is not None:
        # With -c32 a request mostly waits behind the 15 others its worker holds; one
        # connection per worker shows what a match itself takes. The target is judged above.
        rows.append(
            f"match with one connection per worker (no queue): {unqueued.rps:.0f} req/s, "
            f"p50 {unqueued.p50_ms:.1f} ms, p99 {unqueued.p99_ms:.1f} ms"
        )
    if changing is not None:
        rows.append(
            f"match while {CHANGES_PER_SECOND} partners change a second: {changing.rps:.0f} req/s "
            f"({changing.rps / base:.1%} of /healthz), p50 {changing.p50_ms:.1f} ms, "
            f"p99 {changing.p99_ms:.1f} ms"
        )
    # With one worker uvicorn serves from the supervisor's own process.
    workers = {pid: mb for pid, mb in peaks.items() if pid != supervisor} or peaks
    total = sum(peaks.values())
    rows.append(
        f"peak RSS (VmHWM): {total:.0f} MB summed over the server's {len(peaks)} process(es) "
        f"({len(workers)} worker(s)); largest worker {max(workers.values(), default=0):.0f} MB "
        f"(target <= {RSS_LIMIT_MB} MB summed: {'ok' if total <= RSS_LIMIT_MB else 'MISS'})"
    )
    rows.append(
        "machine: {nproc} cores, {cpu}, {ram} RAM; Python {python}; wrk -t{threads} -c{conns} "
        "-d{duration}s after a {warm}s warm-up; server: {workers} worker(s)".format(**meta)
    )
    return "\n".join(rows)


def main() -> None:
    def stop_on_signal(signum: int, _frame: types.FrameType | None) -> None:
        raise SystemExit(f"bench: stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop_on_signal)
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    duration = _bounded("BENCH_DURATION", 15, 60)
    conns = _bounded("BENCH_CONNECTIONS", 32, 256)
    workers = _bounded("BENCH_WORKERS", os.cpu_count() or 1, 4)
    wrk = ensure_tool("wrk", "wrk")
    ensure_database(url, fresh=os.environ.get("BENCH_FRESH") == "1")
    env = app_environment(url)
    load_data(env, url)
    fixtures = json.loads(FIXTURES.read_text())
    server = Server(env, workers)
    try:
        server.wait_ready()
        status, spec = http("GET", "/openapi.json")
        has_matches = status == 200 and "/v1/matches" in spec["paths"]
        if not has_matches:
            say("POST /v1/matches is missing from the server; benching the rest")
        only = os.environ.get("BENCH_ONLY", "")
        work = [
            item
            for item in workload(fixtures, has_matches)
            if only in item[0] or "healthz" in item[0]
        ]
        probe(work)
        results = []
        for name, lines, token in work:
            say(f"{name}: {WARM_UP_SECONDS}s warm-up, {duration}s run")
            results.append(run_wrk(wrk, server, name, lines, token, duration, conns))
        unqueued = changing = None
        for name, lines, token in work:
            if name == "POST /v1/matches":
                say(f"{name}, one connection per worker: {WARM_UP_SECONDS}s + {duration}s")
                unqueued = run_wrk(wrk, server, name, lines, token, duration, workers)
                say(f"{name} while {CHANGES_PER_SECOND} partners change a second")
                with partners_changing(url, fixtures["partner_ids"]):
                    changing = run_wrk(wrk, server, name, lines, token, duration, conns)
        pids = server.pids()
        peaks = peak_rss_mb(pids)
    finally:
        server.stop()
    meta = machine() | {
        "threads": THREADS,
        "conns": conns,
        "duration": duration,
        "warm": WARM_UP_SECONDS,
        "workers": workers,
    }
    table = report(
        results, unqueued, changing, peaks, server.process.pid, meta, has_matches=has_matches
    )
    print(table)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench-{stamp}.txt").write_text(table + "\n")
    checked = [*results, *(extra for extra in (unqueued, changing) if extra)]
    failed = [r.name for r in checked if r.non2xx or r.socket_errors]
    if failed:
        raise SystemExit(f"bench: non-2xx responses or socket errors on {', '.join(failed)}")


if __name__ == "__main__":
    main()
