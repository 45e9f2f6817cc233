"""The match index: every partner districts may see, held in memory by each worker.

A match reads thousands of partners with their facets, evidence, engagements and due
diligence; loading them per request took seconds. Each worker process keeps them instead, and
before every match asks the database which partners changed since the version it holds
(`partner_changes`, written by triggers in the same transaction as the change, in commit
order; see migration 0006). It reloads those partners before it answers, in the match's own
transaction, so a match never reads a partner older than the last committed write, whichever
worker took the write. The question costs one indexed query that usually returns no row.
The screening arrays take the changed partners' rows by appending (`vector.CurrentArrays`):
building them whole for every change would stop the worker for a tenth of a second each time.
"""

import asyncio
import time
import uuid
from collections.abc import Callable, Collection
from datetime import date, datetime
from typing import Annotated

import structlog
from fastapi import Depends, Request
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database
from app.matching import repository
from app.matching.engine import Candidate, NeedsQuery, Weights
from app.matching.repository import IndexedPartner
from app.matching.vector import CurrentArrays, Shortlist, Term
from app.partners.models import DESIGNATED_STATUSES

log = structlog.get_logger()

# Changed partners the arrays take by appending before they are built again whole: until then
# each one leaves a retired row behind (at most a fifteenth more rows to screen nationally),
# and a whole build, about a tenth of a second in which the worker answers nothing, comes once
# per this many.
REBUILD_AFTER = 1024

LOAD_SECONDS = Histogram(
    "registry_match_index_load_seconds",
    "Loads into a worker's match index, arrays included: `start` reads every partner once, "
    "`changes` the partners changed since (the matches of that worker wait for it).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PARTNERS_LOADED = Counter(
    "registry_match_index_partners_loaded",
    "Partners read into the match index, by kind of load (see the load seconds).",
    ["kind"],
)


def _count_load(kind: str, started: float, partners: int) -> None:
    LOAD_SECONDS.labels(kind).observe(time.perf_counter() - started)
    PARTNERS_LOADED.labels(kind).inc(partners)


def _term(entry: IndexedPartner) -> Term | None:
    """The term in which the partner is designated, if it can be at all: `Partner.designated_on`
    as a term, so that the screening can test thousands of partners at once. Change both
    together."""
    if entry.status not in DESIGNATED_STATUSES:
        return None
    if entry.approved_at is None or entry.expires_at is None:
        return None
    if entry.approved_at >= entry.expires_at:
        return None
    return Term(entry.approved_at, entry.expires_at)


def _designatable(entry: IndexedPartner) -> tuple[Candidate, Term] | None:
    term = _term(entry)
    return None if term is None else (entry.candidate, term)


class MatchIndex:
    def __init__(self) -> None:
        self._version: int | None = None
        self._lock = asyncio.Lock()
        self._partners: dict[uuid.UUID, IndexedPartner] = {}
        # What matches screen, kept current with `_partners` as changes are applied.
        self._arrays: CurrentArrays | None = None
        # Partners that can never be designated, so are only counted.
        self._without_term = 0
        self._warm_up: asyncio.Task[None] | None = None

    @property
    def version(self) -> int | None:
        return self._version

    @property
    def warming(self) -> bool:
        return self._warm_up is not None and not self._warm_up.done()

    def warm_up(self, database: Database, loaded: Callable[[], None]) -> "asyncio.Task[None]":
        """Load everything before the first match asks: at national scale it takes seconds.

        Until it is done, and ``loaded`` has run after a load, `/readyz` says not ready. A
        failure (the database is down, say) is left to the first match to meet again.
        """

        async def load() -> None:
            try:
                async with database.sessions() as session:
                    await self.refresh(session)
            except SQLAlchemyError as error:
                log.warning("match_index_warm_up_failed", error=type(error).__name__)
                return
            loaded()

        self._warm_up = asyncio.create_task(load())
        return self._warm_up

    async def refresh(self, session: AsyncSession) -> None:
        """Bring the index up to what ``session`` sees: every change committed before it."""
        if self._version is None:
            async with self._lock:
                if self._version is None:
                    # The version first: a change committed during the load is loaded again
                    # next time, where reading it last could skip it.
                    started = time.perf_counter()
                    version = await repository.change_version(session)
                    loaded = await repository.load_partners(session)
                    self._apply(loaded, loaded.keys())
                    self._version = version
                    _count_load("start", started, len(loaded))
        # Also after waiting for the first load: a change committed while it ran may be
        # visible to this session and missing from what the load read.
        held = self._version
        changed = await repository.changes_since(session, held)
        if not changed:
            return
        async with self._lock:
            if self._version != held:
                # Another request applied changes while this one waited. Versions follow
                # commit order, so at or past the last one seen here it applied them all:
                # asking again would keep every waiting match in line for a round trip.
                if self._version >= max(changed.values()):
                    return
                changed = await repository.changes_since(session, self._version)
            if changed:
                started = time.perf_counter()
                loaded = await repository.load_partners(session, changed.keys())
                self._apply(loaded, changed.keys())
                self._version = max(changed.values())
                _count_load("changes", started, len(changed))

    def _apply(
        self, loaded: dict[uuid.UUID, IndexedPartner], changed: Collection[uuid.UUID]
    ) -> None:
        """Replace the changed partners; one missing from ``loaded`` is no longer visible."""
        for partner_id in changed:
            if (before := self._partners.pop(partner_id, None)) is not None:
                self._without_term -= _term(before) is None
            if (now := loaded.get(partner_id)) is not None:
                self._partners[partner_id] = now
                self._without_term += _term(now) is None
        arrays = self._arrays
        if arrays is None or len(arrays.changed) + len(changed) > REBUILD_AFTER:
            self._arrays = CurrentArrays.build(
                [pair for entry in self._partners.values() if (pair := _designatable(entry))]
            )
        else:
            self._arrays = arrays.changing(changed, self._current)

    def _current(self, partner_id: uuid.UUID) -> tuple[Candidate, Term] | None:
        """The partner as the arrays take it now, or None when it has no term or is gone."""
        entry = self._partners.get(partner_id)
        return None if entry is None else _designatable(entry)

    def shortlist(
        self,
        query: NeedsQuery,
        moment: datetime,
        weights: Weights,
        limit: int | None,
        today: date,
    ) -> Shortlist:
        """The candidates that can place for ``query`` on ``moment``, and every exclusion.

        For a later day, an active engagement that ends before ``query.as_of`` has freed its
        place by then. Up to ``today`` every active engagement uses one, whatever its end date,
        as when an engagement is created: it holds its place until it is completed or
        terminated.
        """
        assert self._arrays is not None, "refresh first"
        return self._arrays.shortlist(
            query,
            moment,
            weights,
            limit,
            without_term=self._without_term,
            freed_before=query.as_of if query.as_of > today else None,
        )


async def match_index(request: Request) -> MatchIndex:
    index: MatchIndex = request.app.state.match_index
    return index


MatchIndexDep = Annotated[MatchIndex, Depends(match_index)]
