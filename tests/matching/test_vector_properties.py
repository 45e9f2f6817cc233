"""The array screening gives exactly `engine.match`'s outcome, whatever the inputs."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.vocabulary import DeliveryMode
from app.matching.engine import Candidate, ExclusionCode, NeedsQuery, Weights, match
from app.matching.vector import CurrentArrays, PartnerArrays, Term, shortlist
from tests.matching.builders import candidate, query
from tests.matching.test_engine_properties import candidates, fitting, queries, weights

MOMENT = datetime(2026, 9, 1, 12, tzinfo=UTC)
IN_TERM = Term(MOMENT - timedelta(days=30), MOMENT + timedelta(days=300))
LAPSED = Term(MOMENT - timedelta(days=400), MOMENT - timedelta(days=35))


def _with_term(partner: Candidate) -> tuple[Candidate, Term]:
    """The partner as the index holds it: designated, in a term running on MOMENT or not."""
    return replace(partner, designated=True), IN_TERM if partner.designated else LAPSED


def _arrays(pool: list[Candidate]) -> PartnerArrays:
    return PartnerArrays.build([_with_term(c) for c in pool])


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


# What both property tests below screen for: any profile, weights, limit and day.
screenings = given(
    data=st.data(),
    query=queries(),
    weights=weights,
    limit=st.none() | st.integers(1, 4),
    freed_before=st.none() | DAYS,
)


@settings(max_examples=300, deadline=None)
@screenings
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


Registry = dict[uuid.UUID, tuple[Candidate, Term]]


def _by_id(partner: Candidate) -> uuid.UUID:
    return partner.partner_id


@st.composite
def _changes(
    draw: st.DrawFn, registry: Registry, partners: st.SearchStrategy[Candidate]
) -> tuple[set[uuid.UUID], Registry]:
    """Partners changed, gone (or without a term) and new, with the registry after them."""
    after = dict(registry)
    changed = (
        set(draw(st.lists(st.sampled_from(sorted(registry)), unique=True))) if registry else set()
    )
    for partner_id in changed:
        now = draw(st.none() | partners.map(lambda c, p=partner_id: replace(c, partner_id=p)))
        if now is None:
            del after[partner_id]
        else:
            after[partner_id] = _with_term(now)
    for new in draw(st.lists(partners, max_size=3)):
        if new.partner_id not in registry:
            changed.add(new.partner_id)
            after[new.partner_id] = _with_term(new)
    return changed, after


@settings(max_examples=200, deadline=None)
@screenings
def test_arrays_that_took_changes_screen_as_arrays_built_afresh(
    data: st.DataObject,
    query: NeedsQuery,
    weights: Weights,
    limit: int | None,
    freed_before: date | None,
) -> None:
    partners = st.one_of(candidates(), fitting(query)).flatmap(_with_ends)
    pool = data.draw(st.lists(partners, max_size=10, unique_by=lambda c: c.partner_id))
    registry = {c.partner_id: _with_term(c) for c in pool}
    arrays = CurrentArrays.build(list(registry.values()))
    for _batch in range(data.draw(st.integers(1, 3))):
        changed, registry = data.draw(_changes(registry, partners))
        arrays = arrays.changing(changed, registry.get)

    afresh = CurrentArrays.build(list(registry.values()))
    kept = arrays.shortlist(query, MOMENT, weights, limit, freed_before=freed_before)
    built = afresh.shortlist(query, MOMENT, weights, limit, freed_before=freed_before)
    assert kept.counts == built.counts
    outcome = match(query, kept.candidates, weights, limit)
    expected = match(query, built.candidates, weights, limit)
    assert outcome.results == expected.results
    assert outcome.excluded == expected.excluded
    if limit is None:
        assert sorted(kept.candidates, key=_by_id) == sorted(built.candidates, key=_by_id)
