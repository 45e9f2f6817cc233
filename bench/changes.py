"""`make bench-changes`: what partner changes cost the next match in the worker's match index.

Every write that a match reads (an engagement, evidence, a review, the partner itself) marks
its partner changed, and the next match in each worker brings its index up to date before it
screens. This loads the index from the bench database as a worker does, then, for a few
sizes of change, marks that many partners changed with a no-op `UPDATE` (the triggers fire;
no value changes), and times in process: bringing the index up to date together with the
first screening after it (the work the next match does, during which the worker answers
nothing else), and a screening while the changes are held (every later match until the
arrays are built again whole).

    BENCH_APP=PATH   measure the index of another checkout (default: this one), for
                     comparisons: `git worktree add /tmp/base <commit>`
"""

import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from run import DEFAULT_URL, FIXTURES, ROOT, app_environment, ensure_database, load_data, say

SIZES = (1, 16, 128)
SCREENINGS = 300


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


def _milliseconds(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def bench(url: str, fixtures: dict[str, Any]) -> list[str]:
    from app.core.config import get_settings
    from app.core.db import Database
    from app.matching.index import MatchIndex

    database = Database(get_settings())
    index = MatchIndex()
    chosen = random.Random(7919)
    queries = [_query(f["region"], f["need_domain"]) for f in fixtures["list_filters"]]
    rows = [f"{'partners changed':<18}{'next match ms':>15}{'each later ms':>15}"]
    try:
        async with database.sessions() as session:
            say("loading the match index")
            await index.refresh(session)
        _screen(index, queries[0])
        steady = statistics.median(
            _timed(lambda: _screen(index, chosen.choice(queries))) for _ in range(SCREENINGS)
        )
        rows.append(f"{'none':<18}{'':>15}{steady:>15.2f}")
        for size in SIZES:
            changed = chosen.sample(fixtures["partner_ids"], size)
            with psycopg.connect(url) as connection:
                connection.execute(
                    "UPDATE partners SET capacity = capacity WHERE id = ANY(%s::uuid[])", [changed]
                )
            started = time.perf_counter()
            async with database.sessions() as session:
                await index.refresh(session)
            _screen(index, chosen.choice(queries))
            next_match = _milliseconds(started)
            later = statistics.median(
                _timed(lambda: _screen(index, chosen.choice(queries))) for _ in range(SCREENINGS)
            )
            rows.append(f"{size:<18}{next_match:>15.1f}{later:>15.2f}")
    finally:
        await database.dispose()
    return rows


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return _milliseconds(started)


def main() -> None:
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    app_root = Path(os.environ.get("BENCH_APP", ROOT)).resolve()
    ensure_database(url, fresh=False)
    env = app_environment(url)
    load_data(env, url)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(app_root))
    say(f"the match index of {app_root}, in process")
    print("\n".join(asyncio.run(bench(url, json.loads(FIXTURES.read_text())))))


if __name__ == "__main__":
    main()
