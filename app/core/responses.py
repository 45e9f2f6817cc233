"""Reads answered from plain values, written straight to JSON."""

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic_core
from fastapi import Response

JSON = "application/json"


def json_response(content: Any, headers: Mapping[str, str] | None = None) -> Response:
    """``content`` written by pydantic-core as its response model would write it, for values
    that already are what the model holds: FastAPI would validate them into the model first,
    a copy of every value. The route names the model (``response_model``) for the OpenAPI
    document."""
    return Response(pydantic_core.to_json(content), media_type=JSON, headers=headers)


def page_response(
    items: Sequence[Any], next_cursor: str | None, headers: Mapping[str, str] | None = None
) -> Response:
    """A `core.pagination.Page` of plain values."""
    return json_response({"items": items, "next_cursor": next_cursor}, headers)
