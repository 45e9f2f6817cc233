"""Shared building blocks for request and response models."""

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# The same rules as JSON Schema patterns, so that clients (and schemathesis) can see them.
# Control characters (tab and line breaks aside) only hide things from people, and the
# bidirectional embeddings, overrides and isolates make a name read as another one: in the
# public directory, a partner could pass for another (the "Trojan Source" trick).
_FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_ALLOWED = rf"[^{_FORBIDDEN}]"
PRINTABLE_PATTERN = rf"^{_ALLOWED}*$"
# Text that is trimmed and then must not be empty: some character other than white space.
# U+FEFF is white space to a client's ECMAScript `\s` and not to the server, which keeps it
# but counts it as blank (`_not_blank`): naming it keeps every text the pattern admits one the
# server accepts.
NOT_BLANK_PATTERN = rf"^{_ALLOWED}*[^\s{_FORBIDDEN}\ufeff]{_ALLOWED}*$"

# The days the registry takes (an `as_of`, an engagement's dates), 2000-01-01 to 2999-12-31;
# JSON Schema has no date bounds, so a pattern tells clients the same.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
DAY_PATTERN = r"^2[0-9]{3}-"


def _calendar_day(value: object) -> object:
    # Pydantic would read a number as a Unix timestamp and a date-time at midnight as its day;
    # a client sending either made a mistake.
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value) is None
    ):
        raise ValueError("a date is an ISO 8601 string, YYYY-MM-DD")
    return value


CALENDAR_DAY = BeforeValidator(_calendar_day)
# The day's own check after the bounds: before them, pydantic would apply the bounds in a
# function of its own and publish them in the schema as non-standard keywords.
Day = Annotated[
    date,
    Field(ge=FIRST_DAY, le=LAST_DAY, json_schema_extra={"pattern": DAY_PATTERN}),
    CALENDAR_DAY,
]


FORBIDDEN_CHARACTER = re.compile(f"[{_FORBIDDEN}]")


def _no_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text; for the others, see _FORBIDDEN.
    if FORBIDDEN_CHARACTER.search(value):
        raise ValueError("must not contain control or bidirectional formatting characters")
    return value


@dataclass(frozen=True)
class _NoControlCharacters:
    """Refuse control characters other than tab and line breaks, and bidirectional formatting
    characters, and document it as a pattern."""

    pattern: str = PRINTABLE_PATTERN

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_no_control_characters, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if "pattern" in json_schema:  # a format of its own, e.g. a URL: both apply
            json_schema.setdefault("allOf", []).append({"pattern": self.pattern})
        else:
            json_schema["pattern"] = self.pattern
        return json_schema


def _not_blank(value: str) -> str:
    # Pydantic trims white space but keeps U+FEFF, which shows nothing either: text of byte
    # order marks alone is as blank as the pattern says.
    if not value.replace("\ufeff", "").strip():
        raise ValueError("must not be blank")
    return value


def _as_sent_at_most(limit: int) -> BeforeValidator:
    """The published ``maxLength``, on the text as sent: pydantic counts after trimming, so
    white space around a text would carry it past the limit the schema gives."""

    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            raise PydanticCustomError(
                "string_too_long",
                "String should have at most {max_length} characters",
                {"max_length": limit},
            )
        return value

    return BeforeValidator(check)


NO_CONTROL_CHARACTERS = _NoControlCharacters()
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _as_sent_at_most(200),
    _NoControlCharacters(NOT_BLANK_PATTERN),
    AfterValidator(_not_blank),
]
SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    _as_sent_at_most(200),
    NO_CONTROL_CHARACTERS,
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10_000),
    _as_sent_at_most(10_000),
    NO_CONTROL_CHARACTERS,
]
Code = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$", min_length=1, max_length=63)
]
# Lower case: the domain part is case-insensitive, and the registry treats the whole address
# so (a user's sign-in name, a partner's contact).
Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(str.lower)]

T = TypeVar("T")


def unique(values: list[T]) -> list[T]:
    """Each value once, in the order first sent: a list that is a set to the registry."""
    return list(dict.fromkeys(values))


def _integral_numbers_as_integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_numbers_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_numbers_as_integers(item) for item in value]
    return value


class RequestModel(BaseModel):
    """Input: unknown fields are rejected, never silently dropped."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _numbers_by_value(cls, data: Any) -> Any:
        # JSON numbers are values: 3.0 is the integer 3, as JSON Schema counts it, so a strict
        # integer field takes it. Booleans and numeric strings are still refused.
        return _integral_numbers_as_integers(data)


class Omittable(RequestModel):
    """Optional fields are left out rather than sent as null; only `clearable` ones take null.

    In a PATCH body null clears a field, where clearing makes sense. The JSON Schema says the
    same: the other fields are documented without `null`.
    """

    clearable: ClassVar[frozenset[str]] = frozenset()

    def sent(
        self, *, mode: Literal["python", "json"] = "python", exclude: set[str] | None = None
    ) -> dict[str, Any]:
        """The fields the client sent, each whole: `exclude_unset` would also drop the defaults
        of a nested model that was sent (a contact's `private`)."""
        return self.model_dump(mode=mode, include=self.model_fields_set, exclude=exclude)

    @model_validator(mode="after")
    def _nulls_only_where_clearable(self) -> Self:
        for name in sorted(self.model_fields_set - self.clearable):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for name, field in handler.resolve_ref_schema(json_schema).get("properties", {}).items():
            if name in cls.clearable:
                continue
            branches = field.get("anyOf", [])
            if {"type": "null"} in branches:
                others = [branch for branch in branches if branch != {"type": "null"}]
                del field["anyOf"]
                field.update(others[0] if len(others) == 1 else {"anyOf": others})
            if "default" in field and field["default"] is None:
                del field["default"]
        return json_schema


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
