"""Shared building blocks for request and response models."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _no_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text and other control characters only hide things from people.
    if any(ord(char) < 32 and char not in "\t\n\r" for char in value):
        raise ValueError("must not contain control characters")
    return value


NO_CONTROL_CHARACTERS = AfterValidator(_no_control_characters)
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    NO_CONTROL_CHARACTERS,
]
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), NO_CONTROL_CHARACTERS
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=10_000), NO_CONTROL_CHARACTERS
]
Code = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$", min_length=1, max_length=63)
]


class RequestModel(BaseModel):
    """Input: unknown fields are rejected, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
