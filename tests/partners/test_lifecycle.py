"""The lifecycle table, exhaustively: every status, every target, every trigger."""

import itertools

import pytest

from app.partners.lifecycle import TRANSITIONS, PartnerStatus, Trigger, judge, targets

S, T = PartnerStatus, Trigger
STAFF, PARTNER, DECISION, CALENDAR = T.STATE_STAFF, T.PARTNER, T.DECISION, T.CALENDAR

# Written out by hand from the lifecycle in domain.md and the contract, not derived from the
# table under test: every (current, target) pair that exists, and who may make it.
EXPECTED: dict[tuple[PartnerStatus, PartnerStatus], set[Trigger]] = {
    (S.DRAFT, S.SUBMITTED): {STAFF, PARTNER},
    (S.DRAFT, S.WITHDRAWN): {STAFF, PARTNER},
    (S.SUBMITTED, S.UNDER_REVIEW): {STAFF},
    (S.SUBMITTED, S.DRAFT): {STAFF, PARTNER},
    (S.SUBMITTED, S.WITHDRAWN): {STAFF, PARTNER},
    (S.UNDER_REVIEW, S.APPROVED): {DECISION},
    (S.UNDER_REVIEW, S.DENIED): {DECISION},
    (S.UNDER_REVIEW, S.WITHDRAWN): {STAFF, PARTNER},
    (S.APPROVED, S.UNDER_REVIEW): {STAFF},
    (S.APPROVED, S.SUSPENDED): {STAFF},
    (S.APPROVED, S.EXPIRED): {CALENDAR},
    (S.APPROVED, S.WITHDRAWN): {STAFF, PARTNER},
    (S.SUSPENDED, S.APPROVED): {STAFF},
    (S.SUSPENDED, S.WITHDRAWN): {STAFF, PARTNER},
    (S.EXPIRED, S.SUBMITTED): {STAFF, PARTNER},
    (S.EXPIRED, S.UNDER_REVIEW): {STAFF},
    (S.EXPIRED, S.WITHDRAWN): {STAFF, PARTNER},
    (S.DENIED, S.SUBMITTED): {STAFF, PARTNER},
}


@pytest.mark.parametrize(("current", "target", "trigger"), list(itertools.product(S, S, T)))
def test_every_move_by_every_trigger(
    current: PartnerStatus, target: PartnerStatus, trigger: Trigger
) -> None:
    allowed_by = EXPECTED.get((current, target), set())
    verdict = judge(current, target, trigger)
    assert verdict.allowed is (trigger in allowed_by)
    assert verdict.exists is bool(allowed_by)
    assert set(verdict.targets) == {
        to for (start, to), triggers in EXPECTED.items() if start is current and trigger in triggers
    }
    assert verdict.targets == targets(current, trigger)


def test_the_table_names_every_status_and_nothing_else() -> None:
    assert set(TRANSITIONS) == set(S)
    assert {(start, to) for start, moves in TRANSITIONS.items() for to in moves} == set(EXPECTED)


def test_approvals_and_denials_come_only_from_decisions_except_reinstatement() -> None:
    for current, target, trigger in itertools.product(S, (S.APPROVED, S.DENIED), T):
        if judge(current, target, trigger).allowed and trigger is not DECISION:
            assert (current, target, trigger) == (S.SUSPENDED, S.APPROVED, STAFF)


def test_withdrawn_is_final() -> None:
    assert all(not judge(S.WITHDRAWN, target, trigger).exists for target in S for trigger in T)
