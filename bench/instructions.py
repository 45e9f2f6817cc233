"""`make bench-instructions`: the instructions each benched request costs the app, counted.

`make bench-cpu` times requests in process, but on shared cores even CPU time moves by a
tenth over minutes, more than most single changes save. valgrind's callgrind counts the
instructions the process executes instead: the same count for the same code, requests and
data, whatever else the machine is doing. A comparison is one run of each version:

    git worktree add /tmp/base <commit>
    BENCH_APP=/tmp/base make bench-instructions    # then `make bench-instructions` here

Each endpoint runs in a Python process of its own under callgrind, with counting switched on
only after start-up, the match index's load and 30 unmeasured requests (the same requests, in
the same order, as `make bench-cpu`), and switched off after BENCH_REQUESTS more. Python runs
about fifty times slower while counted, so this takes about a minute per endpoint. Matches
are stored, so their count creeps up by a fraction of a percent as the bench database
accumulates them: compare versions run one after the other.

Environment (the bench database is built as `make bench` builds it):

    BENCH_POSTGRES_URL  as for `make bench`
    BENCH_REQUESTS      counted requests per endpoint (default 20; at most 1000)
    BENCH_ONLY=TEXT     only the endpoints whose name contains TEXT (and /healthz)
    BENCH_APP=PATH      count the app of another checkout (default: this one)
"""

import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cpu import Request, call, started
from run import (
    DEFAULT_URL,
    FIXTURES,
    ROOT,
    _bounded,
    app_environment,
    ensure_database,
    ensure_tool,
    load_data,
    say,
    workload,
)

WARM_UP_REQUESTS = 30
CHILD = "--counted"


def _callgrind(*args: str) -> None:
    """Tell the callgrind this process runs under what to do."""
    control = shutil.which("callgrind_control")
    assert control is not None, "the parent process installed valgrind"
    subprocess.run([control, *args, str(os.getpid())], check=True, capture_output=True)


async def counted(name: str, count: int, app_root: Path) -> None:
    """In the process under callgrind: count ``count`` requests of the endpoint ``name``."""
    fixtures = json.loads(FIXTURES.read_text())
    lines, token = next(
        (lines, token) for each, lines, token in workload(fixtures, True) if each == name
    )
    requests = [Request.parse(line) for line in lines]
    chosen = random.Random(7919)
    async with started(app_root) as app:
        for _ in range(WARM_UP_REQUESTS):
            await call(app, chosen.choice(requests), token)
        _callgrind("--instr=on")
        statuses = [await call(app, chosen.choice(requests), token) for _ in range(count)]
        _callgrind("--dump=counted")
        _callgrind("--instr=off")
    failed = sum(not 200 <= status < 300 for status in statuses)
    if failed:
        raise SystemExit(f"bench: {name} answered {failed} non-2xx")


def instructions(valgrind: str, name: str, count: int, folder: Path) -> int:
    """Run ``name`` in a process under callgrind; the instructions its counted requests took."""
    dump = folder / f"{len(list(folder.iterdir()))}.callgrind"
    command = [
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={dump}",
        sys.executable,
        __file__,
        CHILD,
        name,
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    counted_dump = dump.with_name(dump.name + ".1")  # callgrind numbers each dump it is asked for
    if finished.returncode != 0 or not counted_dump.exists():
        raise SystemExit(f"bench: {name} under callgrind failed:\n{finished.stderr[-3000:]}")
    for line in counted_dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"bench: no totals in {counted_dump}")


def main() -> None:
    count = _bounded("BENCH_REQUESTS", 20, 1000)
    app_root = Path(os.environ.get("BENCH_APP", ROOT)).resolve()
    if sys.argv[1:2] == [CHILD]:
        sys.path.insert(0, str(app_root))
        asyncio.run(counted(sys.argv[2], count, app_root))
        return
    valgrind = ensure_tool("valgrind", "valgrind")
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    ensure_database(url, fresh=False)
    env = app_environment(url)
    load_data(env, url)
    only = os.environ.get("BENCH_ONLY", "")
    os.environ.clear()
    # A fixed hash seed: string hashes, and with them set orders and the counts, repeat.
    counting = {"BENCH_REQUESTS": str(count), "BENCH_APP": str(app_root), "PYTHONHASHSEED": "0"}
    os.environ.update(env | counting)
    fixtures = json.loads(FIXTURES.read_text())
    names = [name for name, *_ in workload(fixtures, True) if only in name or "healthz" in name]
    say(f"the app of {app_root}, called in process under callgrind, {count} requests each")
    rows = [f"{'endpoint':<28}{'instructions':>14}{'vs /healthz':>13}"]
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as folder:
        baseline = None
        for name in names:
            say(f"{name}: {count} requests")
            each = instructions(valgrind, name, count, Path(folder)) / count
            baseline = baseline or each
            rows.append(f"{name:<28}{each / 1e6:>13.3f}M{each / baseline:>12.1f}x")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
