"""FastAPI runs a plain-function dependency in a worker thread on every request: a thread hop
for nothing when the function does no blocking work. Every dependency here is async."""

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _runs_on_the_event_loop(call: Callable[..., Any]) -> bool:
    function = call if inspect.isfunction(call) else getattr(call, "__call__", call)  # noqa: B004
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def test_every_dependency_of_every_route_runs_on_the_event_loop(app: FastAPI) -> None:
    routes = [
        (context.path, context.route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
    ]
    assert len(routes) > 40
    threaded = {
        f"{path}: {getattr(call, '__qualname__', repr(call))}"
        for path, route in routes
        for call in _calls(route.dependant)
        if not _runs_on_the_event_loop(call)
    }
    assert not threaded
