"""Prometheus metrics: what a worker counts, and one exposition of every worker's counts.

`registry serve --workers N` runs N processes, and a scrape reaches only one of them. In
prometheus-client's multiprocess mode each process keeps its values in files under the
directory that `PROMETHEUS_MULTIPROC_DIR` names (`registry serve` makes a fresh one), and the
worker that answers a scrape reads every process's files. The variable must be set before
prometheus-client is imported, so a worker decides its mode once, at start.
"""

import os

from fastapi.routing import iter_route_contexts
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Scope

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
# From a cached read (about a millisecond) to a slow match under load (a second or more).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Requests no route took (404, or a host refused before routing): one series, not one per path.
NO_ROUTE = "(none)"
# A client picks the method: any other counts as one, so that no client can add series at will.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "(other)"

# One histogram, its `_count` the number of requests: a counter beside it would double the
# writes of every request (each takes a lock and, with several workers, writes to a file).
REQUESTS = Histogram(
    "registry_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route template and "
    "status; its _count counts the requests.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)


class RequestMetrics:
    """Counts one answered request; the label children are looked up once per series."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], Histogram] = {}
        self._templates: dict[int, str] | None = None

    def route(self, scope: Scope) -> str:
        """The template of the route that took the request, `/v1` included, or `NO_ROUTE`.

        The router leaves the route it chose in the scope, but a route of an included router
        knows only its path within that router; the app's route contexts know the whole one.
        Routes are fixed once the app serves, so they are mapped once, by identity (a
        Starlette route compares by value and has no hash).
        """
        route = scope.get("route")
        if route is None:
            return NO_ROUTE
        if self._templates is None:
            self._templates = {
                id(context.original_route): context.path_format
                for context in iter_route_contexts(scope["app"].routes)
                if context.path_format is not None
            }
        template = self._templates.get(id(route))
        return template if template is not None else str(getattr(route, "path", NO_ROUTE))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in METHODS:
            method = OTHER_METHOD
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[method, route, status] = REQUESTS.labels(
                method, route, str(status)
            )
        series.observe(seconds)


def exposition() -> bytes:
    """Every metric in Prometheus' text format: all workers' when they share a directory."""
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(registry)
    return generate_latest(REGISTRY)
