"""Fixed vocabularies of the domain (domain.md, "Other fixed vocabularies")."""

from enum import StrEnum


class GradeBand(StrEnum):
    PREK = "prek"
    ELEMENTARY = "elementary"
    MIDDLE = "middle"
    HIGH = "high"


class Locale(StrEnum):
    CITY = "city"
    SUBURB = "suburb"
    TOWN = "town"
    RURAL = "rural"


class DeliveryMode(StrEnum):
    ONSITE = "onsite"
    VIRTUAL = "virtual"
    HYBRID = "hybrid"
