"""ETags from resource versions, and the If-Match rule for every write."""

from typing import Annotated

from fastapi import Header

from app.core.errors import PreconditionFailed, PreconditionRequired

IF_MATCH = Header(
    alias="If-Match",
    max_length=200,
    description="The ETag of the version you are changing (from the last read).",
)
# Required on every change of an existing resource; a missing one is answered 428 (see
# `app.core.errors`), not 422.
IfMatch = Annotated[str, IF_MATCH]
# For a write that creates the resource the first time and replaces it later (a score sheet).
IfMatchToReplace = Annotated[str | None, IF_MATCH]


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None:
        raise PreconditionRequired()
    # Compared strongly, as RFC 9110 asks of If-Match: a weak tag (`W/"3"`) never matches.
    # "*" is not honoured either: it would let a client overwrite a version it never read.
    tags = {tag.strip() for tag in if_match.split(",")}
    if etag(version) not in tags:
        raise PreconditionFailed(
            f"The resource is at version {version}; read it again and reapply your change."
        )
