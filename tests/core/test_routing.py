"""The order of the domain routers (`app.api`) must never decide which route answers."""

import re

from fastapi.routing import APIRoute
from starlette.routing import compile_path

from app.api import API_PREFIX, DOMAIN_ROUTERS

ROUTES = [
    (position, API_PREFIX + route.path, route.methods)
    for position, router in enumerate(DOMAIN_ROUTERS)
    for route in router.routes
    if isinstance(route, APIRoute)
]


def _sample(path: str) -> str:
    """A concrete path for a route's template: every parameter filled in."""
    return re.sub(r"\{[^}]+\}", "some-id", path)


def test_every_domain_router_has_routes() -> None:
    assert {position for position, _path, _methods in ROUTES} == set(range(len(DOMAIN_ROUTERS)))


Route = tuple[int, str, set[str]]


def _clashes(routes: list[Route]) -> list[tuple[str, str]]:
    """Paths of one router that a route of another router would also answer."""
    return [
        (path, other_path)
        for position, path, methods in routes
        for other_position, other_path, other_methods in routes
        if other_position != position
        and methods & other_methods
        and compile_path(other_path)[0].match(_sample(path))
    ]


def test_no_request_matches_routes_of_two_routers() -> None:
    assert _clashes(ROUTES) == []


def test_a_clash_is_seen() -> None:
    routes: list[Route] = [(0, "/v1/users/{user_id}", {"GET"}), (1, "/v1/users/me", {"GET"})]
    assert _clashes(routes) == [("/v1/users/me", "/v1/users/{user_id}")]
    # Within one router the order is FastAPI's rule on purpose (`/me` before `/{user_id}`).
    assert _clashes([(0, path, methods) for _position, path, methods in routes]) == []
