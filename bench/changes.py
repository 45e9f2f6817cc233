"""`make bench-changes`: what partner changes cost the next match in the worker's match index.

Every write that a match reads (an engagement, evidence, a review, the partner itself) marks
its partner changed, and the next match in each worker brings its index up to date before it
screens. This starts the app in process as a worker starts (its index loaded, the collector
set up as in production) on the bench database, then, for a few sizes of change, marks that
many partners changed with a no-op `UPDATE` (the triggers fire; no value changes) and times:
bringing the index up to date together with the first screening after it (the work the next
match does; its CPU time is time in which the worker answers nothing else, the rest is
waiting for PostgreSQL), median of five, and a screening while the changes are held (every
later match until the arrays are built again whole).

    BENCH_APP=PATH   measure the index of another checkout (default: this one), for
                     comparisons: `git worktree add /tmp/base <commit>`
"""

import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg
from cpu import in_process, started
from run import FIXTURES, say

SIZES = (1, 16, 128)
SCREENINGS = 300
REPEATS = 5  # changes of each size; the table shows the median


def _screen(index: Any, query: Any) -> Any:
    from app.core.base import utcnow
    from app.matching.engine import Weights

    moment = utcnow()
    return index.shortlist(query, moment, Weights(), 10, moment.date())


def _query(region: str, need_domain: str) -> Any:
    from app.core.base import utcnow
    from app.matching.engine import NeedRequest, NeedsQuery
    from app.needs.vocabulary import FundingSource

    return NeedsQuery(
        region=region,
        locale="rural",
        grade_bands=frozenset({"elementary"}),
        student_groups=frozenset(),
        needs=(NeedRequest(need_domain, 5),),
        funding_source=FundingSource.TITLE_I_1003,
        min_evidence_tier=4,
        budget=200_000,
        delivery_modes=frozenset(),
        as_of=utcnow().date(),
    )


def _milliseconds(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def bench(url: str, fixtures: dict[str, Any], app_root: Path) -> list[str]:
    chosen = random.Random(7919)
    queries = [_query(f["region"], f["need_domain"]) for f in fixtures["list_filters"]]
    rows = [f"{'partners changed':<18}{'next match ms':>15}{'of it CPU':>11}{'each later ms':>15}"]
    say("starting the app and loading its match index")
    async with started(app_root) as app:
        index, database = app.state.match_index, app.state.database
        _screen(index, queries[0])
        steady = statistics.median(
            _timed(lambda: _screen(index, chosen.choice(queries))) for _ in range(SCREENINGS)
        )
        rows.append(f"{'none':<18}{'':>15}{'':>11}{steady:>15.2f}")
        for size in SIZES:
            taken = [
                await _change(url, index, database, chosen, size, fixtures, queries)
                for _ in range(REPEATS)
            ]
            next_match = statistics.median(wall for wall, _cpu in taken)
            cpu = statistics.median(cpu for _wall, cpu in taken)
            later = statistics.median(
                _timed(lambda: _screen(index, chosen.choice(queries))) for _ in range(SCREENINGS)
            )
            rows.append(f"{size:<18}{next_match:>15.1f}{cpu:>11.1f}{later:>15.2f}")
    return rows


async def _change(
    url: str,
    index: Any,
    database: Any,
    chosen: random.Random,
    size: int,
    fixtures: dict[str, Any],
    queries: list[Any],
) -> tuple[float, float]:
    """Mark ``size`` partners changed; the next match's index work, wall and CPU ms."""
    changed = chosen.sample(fixtures["partner_ids"], size)
    with psycopg.connect(url) as connection:
        connection.execute(
            "UPDATE partners SET capacity = capacity WHERE id = ANY(%s::uuid[])", [changed]
        )
    since, cpu = time.perf_counter(), time.process_time()
    async with database.sessions() as session:
        await index.refresh(session)
    _screen(index, chosen.choice(queries))
    return _milliseconds(since), (time.process_time() - cpu) * 1000


def _timed(work: Any) -> float:
    since = time.perf_counter()
    work()
    return _milliseconds(since)


def main() -> None:
    url, app_root = in_process()
    say(f"the match index of {app_root}, in process")
    fixtures = json.loads(FIXTURES.read_text())
    print("\n".join(asyncio.run(bench(url, fixtures, app_root))))


if __name__ == "__main__":
    main()
