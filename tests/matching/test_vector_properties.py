"""The array screening gives exactly `engine.match`'s outcome, whatever the inputs."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.vocabulary import DeliveryMode
from app.matching.engine import Candidate, ExclusionCode, NeedsQuery, Weights, match
from app.matching.vector import PartnerArrays, Term, shortlist
from tests.matching.builders import candidate, query
from tests.matching.test_engine_properties import candidates, fitting, queries, weights

MOMENT = datetime(2026, 9, 1, 12, tzinfo=UTC)
IN_TERM = Term(MOMENT - timedelta(days=30), MOMENT + timedelta(days=300))
LAPSED = Term(MOMENT - timedelta(days=400), MOMENT - timedelta(days=35))


def _arrays(pool: list[Candidate]) -> PartnerArrays:
    return PartnerArrays.build(
        [(replace(c, designated=True), IN_TERM if c.designated else LAPSED) for c in pool]
    )


def _reachable(query: NeedsQuery, partner: Candidate) -> bool:
    virtual = query.accepts_virtual and DeliveryMode.VIRTUAL in partner.delivery_modes
    return query.region in partner.regions or virtual


def _serves(query: NeedsQuery, partner: Candidate) -> bool:
    return any(need.need_domain in partner.need_domains for need in query.needs)


DAYS = st.dates(MOMENT.date() - timedelta(days=20), MOMENT.date() + timedelta(days=20))


@st.composite
def _with_ends(draw: st.DrawFn, partner: Candidate) -> Candidate:
    """Some of its active engagements end on a day near MOMENT."""
    ends = draw(st.lists(DAYS, max_size=partner.active_engagements))
    return replace(partner, engagement_ends=tuple(sorted(ends)))


def _in_use_before(partner: Candidate, day: date | None) -> Candidate:
    """What the engine is told on ``day``: the engagements ended before it freed their places."""
    ended = sum(1 for end in partner.engagement_ends if day is not None and end < day)
    return replace(partner, active_engagements=partner.active_engagements - ended)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    query=queries(),
    weights=weights,
    limit=st.none() | st.integers(1, 4),
    freed_before=st.none() | DAYS,
)
def test_the_shortlist_gives_the_engines_outcome(
    data: st.DataObject,
    query: NeedsQuery,
    weights: Weights,
    limit: int | None,
    freed_before: date | None,
) -> None:
    pool = data.draw(
        st.lists(
            st.one_of(candidates(), fitting(query)).flatmap(_with_ends),
            max_size=14,
            unique_by=lambda partner: partner.partner_id,
        )
    )
    screened = shortlist(_arrays(pool), query, MOMENT, weights, limit, freed_before=freed_before)
    outcome = match(query, screened.candidates, weights, limit)

    designated = [_in_use_before(c, freed_before) for c in pool if c.designated]
    reachable = [c for c in designated if _reachable(query, c)]
    basics = [c for c in reachable if _serves(query, c)]
    expected = match(query, basics, weights, limit)
    assert outcome.results == expected.results
    assert outcome.excluded == expected.excluded
    counts = dict(expected.excluded_counts)
    counts[ExclusionCode.DESIGNATION_INACTIVE] += len(pool) - len(designated)
    counts[ExclusionCode.REGION_NOT_SERVED] += len(designated) - len(reachable)
    counts[ExclusionCode.NEED_NOT_SERVED] += len(reachable) - len(basics)
    counts[ExclusionCode.EVIDENCE_BELOW_MINIMUM] += len(reachable) - len(basics)
    assert screened.counts == counts


def test_a_term_includes_its_first_moment_and_excludes_its_last() -> None:
    partner = candidate()
    arrays = PartnerArrays.build([(partner, Term(MOMENT, MOMENT + timedelta(days=1)))])
    at_start = shortlist(arrays, query(), MOMENT, weights=Weights(), limit=None)
    at_end = shortlist(arrays, query(), MOMENT + timedelta(days=1), weights=Weights(), limit=None)
    assert at_start.candidates == [partner]
    assert at_end.candidates == []
    assert at_end.counts[ExclusionCode.DESIGNATION_INACTIVE] == 1
