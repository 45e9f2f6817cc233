"""API7:2023 Server Side Request Forgery.

Two fields take a URL: a partner's `website` and a study's `url` (in evidence and in the
classify request). The registry stores and shows them and never fetches them. Proved three
ways: the spec has no other URL-taking input (a new one must come through here); no module of
the app imports anything that can open an outbound connection; and URLs pointing at a live
listener, the cloud metadata address and an unresolvable canary host, sent through every route
that takes or shows them, cause no connection and no name lookup. Schemes other than http(s)
are refused.
"""

import ast
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import (
    Actors,
    create_needs,
    designate,
    evidence_payload,
    partner_payload,
)
from tests.security.helpers import SPEC, assert_problem

APP = Path(__file__).resolve().parents[2] / "app"
URL_NAMES = re.compile(r"url|uri|website|link|href|callback|webhook|endpoint|host", re.IGNORECASE)
URL_INPUTS = {
    ("PartnerCreate", "website"),
    ("PartnerUpdate", "website"),
    ("EvidenceCreate", "url"),
    ("EvidenceUpdate", "url"),
    ("ClassifyRequest", "url"),
}
# Modules that open connections of their own. The database drivers are configured, not fed
# user input, and are not imported by app code directly.
OUTBOUND = {
    "httpx",
    "requests",
    "aiohttp",
    "urllib.request",
    "urllib3",
    "http.client",
    "socket",
    "smtplib",
    "ftplib",
    "pycurl",
    "websockets",
    "asyncio.open_connection",
}
CANARY_HOST = "ssrf-canary.invalid"
METADATA = "169.254.169.254"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield str(value).rsplit("/", 1)[1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_only_url_inputs_are_the_known_ones() -> None:
    """A new URL-taking field or parameter fails here until it is reviewed for SSRF."""
    schemas = SPEC["components"]["schemas"]
    stack = [
        name
        for operations in SPEC["paths"].values()
        for operation in operations.values()
        for name in _refs(operation.get("requestBody", {}))
    ]
    inputs, seen = set(), set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack += list(_refs(schemas[name]))
        for field, schema in schemas[name].get("properties", {}).items():
            if URL_NAMES.search(field) or '"uri"' in str(schema).replace("'", '"'):
                inputs.add((name, field))
    assert inputs == URL_INPUTS
    parameters = {
        (path, parameter["name"])
        for path, operations in SPEC["paths"].items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if URL_NAMES.search(parameter["name"])
    }
    assert parameters == set()


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_app_module_can_open_an_outbound_connection() -> None:
    offenders = {
        f"{path.relative_to(APP.parent)}: {name}"
        for path in APP.rglob("*.py")
        for name in _imports(path)
        if name in OUTBOUND or name.split(".")[0] in OUTBOUND
    }
    assert offenders == set()


class Listener:
    """A TCP port that counts who connects to it."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port: int = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    listening = Listener()
    yield listening
    listening.close()


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch, listener: Listener) -> list[str]:
    """Name lookups and connects aimed at the planted hosts, by anything in this process."""
    seen: list[str] = []
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def planted(host: object, port: object) -> bool:
        return str(host) in {CANARY_HOST, METADATA} or str(port) == str(listener.port)

    def spy_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if planted(host, port):
            seen.append(f"getaddrinfo {host}:{port}")
        return resolve(host, port, *args, **kwargs)

    def spy_connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and planted(address[0], address[1]):
            seen.append(f"connect {address}")
        return connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", spy_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", spy_connect)
    return seen


def _planted_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/partner",
        f"http://localhost:{port}/",
        f"http://{METADATA}/latest/meta-data/iam/security-credentials/",
        f"https://{CANARY_HOST}/study.pdf",
        f"http://[::1]:{port}/",
    ]


async def test_urls_are_stored_and_shown_but_never_fetched(
    app: FastAPI,
    client: httpx.AsyncClient,
    actors: Actors,
    listener: Listener,
    attempts: list[str],
) -> None:
    admin = actors.admin.headers
    partner_id = actors.partner_record["id"]
    shown: list[str] = []
    for url in _planted_urls(listener.port):
        partner = await client.post(
            "/v1/partners", json=partner_payload(website=url), headers=admin
        )
        assert partner.status_code == 201, partner.text
        await designate(app, partner.json()["id"])
        patched = await client.patch(
            f"/v1/partners/{partner_id}",
            json={"website": url},
            headers=actors.partner.headers | {"If-Match": f'"{len(shown) + 1}"'},
        )
        assert patched.status_code == 200, patched.text
        classified = await client.post(
            "/v1/evidence/classify", json=evidence_payload(url=url), headers=actors.district.headers
        )
        assert classified.status_code == 200, classified.text
        evidence = await client.post(
            f"/v1/partners/{partner.json()['id']}/evidence",
            json=evidence_payload(url=url),
            headers=admin,
        )
        assert evidence.status_code == 201, evidence.text
        accepted = await client.post(
            f"/v1/evidence/{evidence.json()['id']}/decision",
            json={"decision": "accept"},
            headers=admin | {"If-Match": '"1"'},
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["url"] == url, "stored as sent, not resolved or rewritten"
        shown.append(url)
    needs = await create_needs(client, actors.district, actors.district_record["id"])
    matched = await client.post(
        "/v1/matches", json={"needs_id": needs["id"]}, headers=actors.district.headers
    )
    assert matched.status_code == 201, matched.text
    directory = await client.get("/v1/directory", params={"limit": 200})
    export = await client.get("/v1/directory", headers={"Accept": "text/csv"})
    for url in shown:
        assert url in export.text
    assert directory.status_code == 200
    assert attempts == [], "the server reached for a URL it was given"
    assert listener.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "ftp://files.example.org/x",
        "dict://127.0.0.1:11211/stat",
        "ldap://127.0.0.1/",
        "data:text/html,<script>alert(1)</script>",
        "javascript:alert(document.cookie)",
        "//evil.example.com/path",
        "127.0.0.1:8080",
        "http ://spaced.example.org",
        "https://example.org/\nSet-Cookie: x=1",
    ],
)
async def test_only_http_and_https_urls_are_accepted(
    client: httpx.AsyncClient, actors: Actors, url: str
) -> None:
    admin = actors.admin.headers
    cases = [
        ("/v1/partners", partner_payload(website=url), ["body", "website"]),
        (
            f"/v1/partners/{actors.partner_record['id']}/evidence",
            evidence_payload(url=url),
            ["body", "url"],
        ),
        ("/v1/evidence/classify", evidence_payload(url=url), ["body", "url"]),
    ]
    for path, body, loc in cases:
        problem = assert_problem(await client.post(path, json=body, headers=admin), 422)
        assert loc in [issue["loc"] for issue in problem["errors"]], (path, problem)
