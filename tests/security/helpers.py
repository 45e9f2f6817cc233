"""What every module of the OWASP suite checks the same way."""

import json
import re
from pathlib import Path
from typing import Any

import httpx

from app.core.errors import PROBLEM_JSON, TYPE_BASE

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text()
)
# Text that would mean internals reached a client: a traceback, the ORM or a driver, SQL, code.
INTERNALS = re.compile(
    r"Traceback|File \"|sqlalchemy|psycopg|aiosqlite|sqlite3|\.py\b|\bSELECT\b|\bINSERT\b"
    r"|\bUPDATE \w+ SET\b|app\.[a-z_]+\.[a-z_]+"
)
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status, and nothing internal in it."""
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith(TYPE_BASE)
    assert problem["title"]
    assert INTERNALS.search(response.text) is None, response.text
    return problem


def spec_operations() -> list[tuple[str, str]]:
    """Every (METHOD, path template) of the committed spec."""
    return sorted(
        (method.upper(), path)
        for path, operations in SPEC["paths"].items()
        for method in operations
    )


def fill(template: str, ids: dict[str, str]) -> str:
    """A path template with its parameters taken from ``ids``."""
    return re.sub(r"\{(\w+)\}", lambda match: ids[match[1]], template)
