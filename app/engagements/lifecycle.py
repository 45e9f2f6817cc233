"""The engagement lifecycle as a pure table: ``planned → active → completed``, and either
open state ``→ terminated``. Completed and terminated are final."""

from enum import StrEnum


class EngagementStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"


S = EngagementStatus

TRANSITIONS: dict[EngagementStatus, frozenset[EngagementStatus]] = {
    S.PLANNED: frozenset({S.ACTIVE, S.TERMINATED}),
    S.ACTIVE: frozenset({S.COMPLETED, S.TERMINATED}),
    S.COMPLETED: frozenset(),
    S.TERMINATED: frozenset(),
}

# An engagement can be recorded as it starts or before; the end states come from a move.
INITIAL = frozenset({S.PLANNED, S.ACTIVE})


def allowed_targets(current: EngagementStatus) -> list[EngagementStatus]:
    """The moves open from ``current``, in declaration order (for error messages)."""
    return [status for status in EngagementStatus if status in TRANSITIONS[current]]
