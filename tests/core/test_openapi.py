import json
from pathlib import Path

import httpx

from app.openapi import document

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


async def test_committed_spec_equals_the_served_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    committed = json.loads(COMMITTED.read_text())
    assert served == committed, "openapi/openapi.json is stale: run `make openapi`"
    assert COMMITTED.read_text() == document()


def test_operation_ids_are_unique_and_every_operation_documents_its_errors() -> None:
    spec = json.loads(COMMITTED.read_text())
    operation_ids = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            if (
                path.startswith("/v1/")
                and path != "/v1/directory"
                and not path.startswith("/v1/directory")
            ):
                assert "401" in operation["responses"] or path == "/v1/auth/token", (method, path)
            if any(param["in"] in {"query", "path"} for param in operation.get("parameters", [])):
                assert "422" in operation["responses"], (method, path)
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)
            if path.startswith("/v1/"):
                assert "503" in operation["responses"], (method, path)
    assert len(operation_ids) == len(set(operation_ids))


def test_if_match_is_documented_as_the_routes_enforce_it() -> None:
    """Required where a missing one is refused (428); optional only where a first write creates."""
    spec = json.loads(COMMITTED.read_text())
    required = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for param in operation.get("parameters", []):
                if param["name"] == "If-Match":
                    required[(method, path)] = param["required"]
                    assert {"412", "428"} <= responses.keys(), (method, path)
            if "428" in responses:
                assert (method, path) in required, (method, path)
    assert [op for op, is_required in required.items() if not is_required] == [
        ("put", "/v1/reviews/{review_id}/scores")
    ]
    assert ("patch", "/v1/partners/{partner_id}") in required
