"""The partner lifecycle as a pure state machine.

``draft → submitted → under_review → approved | denied``, ``approved → suspended → approved``,
anything open ``→ withdrawn``, and ``approved → expired`` when the designation term ends.
Renewal is ``approved | expired → under_review`` (state staff); a partner renewing a term that
still runs keeps that term, and its place in the directory, until a decision or the calendar
ends it. Every move is made by one kind of event: a person's request, a due-diligence
decision, or the calendar. Moves into ``approved`` and ``denied`` come from decisions, except
that state staff reinstate a suspended partner (which keeps its designation term).
"""

from dataclasses import dataclass
from enum import StrEnum


class PartnerStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    DENIED = "denied"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Trigger(StrEnum):
    STATE_STAFF = "state_staff"
    PARTNER = "partner"
    DECISION = "decision"
    CALENDAR = "calendar"


S = PartnerStatus
_STAFF = frozenset({Trigger.STATE_STAFF})
_STAFF_OR_PARTNER = frozenset({Trigger.STATE_STAFF, Trigger.PARTNER})

TRANSITIONS: dict[PartnerStatus, dict[PartnerStatus, frozenset[Trigger]]] = {
    S.DRAFT: {S.SUBMITTED: _STAFF_OR_PARTNER, S.WITHDRAWN: _STAFF_OR_PARTNER},
    S.SUBMITTED: {
        S.UNDER_REVIEW: _STAFF,
        S.DRAFT: _STAFF_OR_PARTNER,
        S.WITHDRAWN: _STAFF_OR_PARTNER,
    },
    S.UNDER_REVIEW: {
        S.APPROVED: frozenset({Trigger.DECISION}),
        S.DENIED: frozenset({Trigger.DECISION}),
        S.WITHDRAWN: _STAFF_OR_PARTNER,
    },
    S.APPROVED: {
        S.UNDER_REVIEW: _STAFF,
        S.SUSPENDED: _STAFF,
        S.EXPIRED: frozenset({Trigger.CALENDAR}),
        S.WITHDRAWN: _STAFF_OR_PARTNER,
    },
    S.SUSPENDED: {S.APPROVED: _STAFF, S.WITHDRAWN: _STAFF_OR_PARTNER},
    S.EXPIRED: {
        S.SUBMITTED: _STAFF_OR_PARTNER,
        S.UNDER_REVIEW: _STAFF,
        S.WITHDRAWN: _STAFF_OR_PARTNER,
    },
    S.DENIED: {S.SUBMITTED: _STAFF_OR_PARTNER},
    S.WITHDRAWN: {},
}

REASON_REQUIRED = frozenset({S.SUSPENDED, S.WITHDRAWN, S.DENIED})


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Whether the move exists at all for some trigger: tells 409 (never legal) from 403.
    exists: bool
    targets: tuple[PartnerStatus, ...]


def targets(current: PartnerStatus, trigger: Trigger) -> tuple[PartnerStatus, ...]:
    """The statuses this trigger may move a partner to from ``current``, in lifecycle order."""
    moves = TRANSITIONS[current]
    return tuple(status for status in PartnerStatus if trigger in moves.get(status, ()))


def judge(current: PartnerStatus, target: PartnerStatus, trigger: Trigger) -> Verdict:
    triggers = TRANSITIONS[current].get(target, frozenset())
    return Verdict(
        allowed=trigger in triggers, exists=bool(triggers), targets=targets(current, trigger)
    )
