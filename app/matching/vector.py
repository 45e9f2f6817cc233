"""The engine's rules over arrays: every partner screened at once, the engine explains a few.

At national scale a match reaches thousands of designated partners, and `engine.match`, one
candidate at a time, spends tens of milliseconds on them. `PartnerArrays` holds what the rules
read as columns (one row per partner with a designation term, one per support); `shortlist`
applies the hard constraints and the score formula of `app.matching.engine` (its docstring has
every rule) to all rows in a few array operations, counts every exclusion exactly, and keeps
only the rows that can make one of the two lists. `engine.match` over that shortlist then
gives the exact scores, order and explanations. `CurrentArrays` keeps the arrays current
through changes to a few partners without building them again whole. Pure: no I/O.

Scores here may differ from the engine's in the last bits (another order of additions, no
rounding), so the shortlist keeps every row within `SCORE_MARGIN` of the last place;
exclusions are booleans and integers, so the counts are exact.
`tests/matching/test_vector_properties.py` pins that the outcome is `engine.match`'s.
"""

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.evidence.classifier import Tier
from app.matching.engine import UNKNOWN_SCORE, Candidate, ExclusionCode, NeedsQuery, Weights

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Rounding to 6 digits moves a score by at most 5e-7; float error is far below that.
SCORE_MARGIN = 1e-6
NO_TIER = 5  # weaker than every tier, so never covers a need


def _bits(vocabulary: type[GradeBand | Locale | DeliveryMode]) -> dict[str, int]:
    return {str(value): 1 << position for position, value in enumerate(vocabulary)}


GRADE_BITS, LOCALE_BITS, DELIVERY_BITS = _bits(GradeBand), _bits(Locale), _bits(DeliveryMode)


def _mask(values: frozenset[str], bits: Mapping[str, int]) -> int:
    return sum(bits.get(value, 0) for value in values)


def _context(query: NeedsQuery) -> tuple[int, int]:
    """What a study's population and setting are compared with (`NeedsQuery.context`), as bit
    masks."""
    return _mask(query.population_grade_bands, GRADE_BITS), LOCALE_BITS.get(query.locale, 0)


def microseconds(moment: datetime) -> int:
    """A moment as an exact integer: a float of seconds would blur the ends of a term."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class Term:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PartnerArrays:
    candidates: tuple[Candidate, ...]
    start: Ints
    end: Ints
    region_rows: dict[str, Ints]
    virtual: Bools
    domain_rows: dict[str, Bools]
    grade_bits: Ints
    locale_bits: Ints
    delivery_bits: Ints
    capacity: Ints
    engaged: Ints
    # One row per active engagement with an end date: its partner's row and its last day.
    ending_row: Ints
    ending_day: Ints
    cost_min: Ints
    due_diligence: Floats
    track_record: Floats
    # One row per support, in partner row order; a row's supports are
    # `support_start[row]:support_start[row + 1]`.
    support_start: Ints
    support_domain: Ints  # a code from `domain_codes`
    domain_codes: dict[str, int]
    support_tier: Ints
    support_grade_bits: Ints
    support_locale_bits: Ints
    support_groups: dict[str, Bools]

    @classmethod
    def build(cls, partners: Sequence[tuple[Candidate, Term]]) -> "PartnerArrays":
        candidates = tuple(candidate for candidate, _term in partners)
        count = len(candidates)
        region_rows: dict[str, list[int]] = {}
        domain_rows: dict[str, list[int]] = {}
        for row, candidate in enumerate(candidates):
            for region in candidate.regions:
                region_rows.setdefault(region, []).append(row)
            for domain in candidate.need_domains:
                domain_rows.setdefault(domain, []).append(row)
        supports = [
            (row, support)
            for row, candidate in enumerate(candidates)
            for support in candidate.supports
        ]
        endings = [
            (row, end.toordinal())
            for row, candidate in enumerate(candidates)
            for end in candidate.engagement_ends
        ]
        domain_codes: dict[str, int] = {}
        groups: dict[str, list[int]] = {}
        for position, (_row, support) in enumerate(supports):
            domain_codes.setdefault(support.need_domain, len(domain_codes))
            for group in support.study.student_groups:
                groups.setdefault(group, []).append(position)

        def ints(values: list[int]) -> Ints:
            return np.array(values, np.int64)

        def unit(values: list[float | None]) -> Floats:
            return np.array([UNKNOWN_SCORE if v is None else v for v in values], np.float64)

        return cls(
            candidates=candidates,
            start=ints([microseconds(term.start) for _c, term in partners]),
            end=ints([microseconds(term.end) for _c, term in partners]),
            region_rows={region: ints(rows) for region, rows in region_rows.items()},
            virtual=np.array(
                [DeliveryMode.VIRTUAL in c.delivery_modes for c in candidates], np.bool_
            ),
            domain_rows={domain: _flags(rows, count) for domain, rows in domain_rows.items()},
            grade_bits=_masks([c.grade_bands for c in candidates], GRADE_BITS),
            locale_bits=_masks([c.locales for c in candidates], LOCALE_BITS),
            delivery_bits=_masks([c.delivery_modes for c in candidates], DELIVERY_BITS),
            capacity=ints([c.capacity for c in candidates]),
            engaged=ints([c.active_engagements for c in candidates]),
            ending_row=ints([row for row, _day in endings]),
            ending_day=ints([day for _row, day in endings]),
            cost_min=ints([c.cost_min for c in candidates]),
            due_diligence=unit([c.due_diligence for c in candidates]),
            track_record=unit([c.track_record for c in candidates]),
            support_start=np.searchsorted(
                ints([row for row, _s in supports]), np.arange(count + 1, dtype=np.int64)
            ),
            support_domain=ints([domain_codes[s.need_domain] for _r, s in supports]),
            domain_codes=domain_codes,
            support_tier=ints([int(s.tier) for _r, s in supports]),
            support_grade_bits=_masks([s.study.grade_bands for _r, s in supports], GRADE_BITS),
            support_locale_bits=_masks([s.study.locales for _r, s in supports], LOCALE_BITS),
            support_groups={group: _flags(rows, len(supports)) for group, rows in groups.items()},
        )

    def extended(self, other: "PartnerArrays") -> "PartnerArrays":
        """These rows, then ``other``'s: a copy of every column, no Python loop over the rows."""
        row_count, support_count = len(self.candidates), len(self.support_tier)
        domain_codes = dict(self.domain_codes)
        for domain in other.domain_codes:
            domain_codes.setdefault(domain, len(domain_codes))
        recoded = np.array([domain_codes[domain] for domain in other.domain_codes], np.int64)

        def joined(mine: npt.NDArray[Any], theirs: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return np.concatenate([mine, theirs])

        def joined_flags(
            mine: Mapping[str, Bools], theirs: Mapping[str, Bools], sizes: tuple[int, int]
        ) -> dict[str, Bools]:
            return {
                key: joined(
                    mine.get(key, np.zeros(sizes[0], np.bool_)),
                    theirs.get(key, np.zeros(sizes[1], np.bool_)),
                )
                for key in mine.keys() | theirs.keys()
            }

        region_rows = dict(self.region_rows)
        for region, found in other.region_rows.items():
            region_rows[region] = joined(
                region_rows.get(region, np.zeros(0, np.int64)), found + row_count
            )
        return PartnerArrays(
            candidates=self.candidates + other.candidates,
            start=joined(self.start, other.start),
            end=joined(self.end, other.end),
            region_rows=region_rows,
            virtual=joined(self.virtual, other.virtual),
            domain_rows=joined_flags(
                self.domain_rows, other.domain_rows, (row_count, len(other.candidates))
            ),
            grade_bits=joined(self.grade_bits, other.grade_bits),
            locale_bits=joined(self.locale_bits, other.locale_bits),
            delivery_bits=joined(self.delivery_bits, other.delivery_bits),
            capacity=joined(self.capacity, other.capacity),
            engaged=joined(self.engaged, other.engaged),
            ending_row=joined(self.ending_row, other.ending_row + row_count),
            ending_day=joined(self.ending_day, other.ending_day),
            cost_min=joined(self.cost_min, other.cost_min),
            due_diligence=joined(self.due_diligence, other.due_diligence),
            track_record=joined(self.track_record, other.track_record),
            support_start=joined(self.support_start, other.support_start[1:] + support_count),
            support_domain=joined(self.support_domain, recoded[other.support_domain]),
            domain_codes=domain_codes,
            support_tier=joined(self.support_tier, other.support_tier),
            support_grade_bits=joined(self.support_grade_bits, other.support_grade_bits),
            support_locale_bits=joined(self.support_locale_bits, other.support_locale_bits),
            support_groups=joined_flags(
                self.support_groups, other.support_groups, (support_count, len(other.support_tier))
            ),
        )


def _flags(rows: list[int], size: int) -> Bools:
    flags = np.zeros(size, np.bool_)
    flags[rows] = True
    return flags


def _masks(value_sets: list[frozenset[str]], bits: Mapping[str, int]) -> Ints:
    # Thousands of rows share a few hundred distinct sets (the index interns them).
    known: dict[frozenset[str], int] = {}
    return np.array(
        [known[s] if s in known else known.setdefault(s, _mask(s, bits)) for s in value_sets],
        np.int64,
    )


@dataclass(frozen=True)
class Shortlist:
    # The candidates that can make the results or the nearest misses.
    candidates: list[Candidate]
    # Every exclusion: the basics (designation, region, a served need) by the first that
    # fails, as one reason each; the rest of the candidates by every reason that applies.
    counts: dict[ExclusionCode, int]


def _best(values: Floats, limit: int | None) -> Bools:
    """The rows whose score can make the first ``limit`` places."""
    if limit is None or len(values) <= limit:
        return np.ones(len(values), np.bool_)
    last_place = -np.partition(-values, limit - 1)[limit - 1]
    within: Bools = values >= last_place - SCORE_MARGIN
    return within


def shortlist(
    arrays: PartnerArrays,
    query: NeedsQuery,
    moment: datetime,
    weights: Weights,
    limit: int | None,
    *,
    without_term: int = 0,
    freed_before: date | None = None,
    retired: Bools | None = None,
) -> Shortlist:
    """Screen every row for ``query`` on ``moment``; ``without_term`` partners, which can
    never be designated, are only counted, and ``retired`` rows are neither screened nor
    counted. Active engagements that end before ``freed_before`` no longer use a place: the
    candidates come with the rest."""
    now = microseconds(moment)
    designated = (arrays.start <= now) & (now < arrays.end)
    screened = len(designated)
    if retired is not None:
        designated &= ~retired
        screened -= int(retired.sum())
    reach = np.zeros(len(arrays.candidates), np.bool_)
    if (in_region := arrays.region_rows.get(query.region)) is not None:
        reach[in_region] = True
    if query.accepts_virtual:
        reach |= arrays.virtual
    reach &= designated
    served = np.zeros((len(arrays.candidates), len(query.needs)), np.bool_)
    # Kept alongside: `served.any(axis=1)` reduces along the short axis, 15 times slower.
    serves_any = np.zeros(len(arrays.candidates), np.bool_)
    for position, need in enumerate(query.needs):
        if (serving := arrays.domain_rows.get(need.need_domain)) is not None:
            served[:, position] = serving
            serves_any |= serving
    chosen = reach & serves_any
    rows = np.flatnonzero(chosen)
    n_designated, n_reach, n_chosen = int(designated.sum()), int(reach.sum()), len(rows)
    counts = dict.fromkeys(ExclusionCode, 0)
    counts[ExclusionCode.DESIGNATION_INACTIVE] = without_term + screened - n_designated
    counts[ExclusionCode.REGION_NOT_SERVED] = n_designated - n_reach
    counts[ExclusionCode.NEED_NOT_SERVED] = n_reach - n_chosen
    counts[ExclusionCode.EVIDENCE_BELOW_MINIMUM] = n_reach - n_chosen
    if not n_chosen:
        return Shortlist([], counts)

    best, overlap = _evidence(arrays, query, rows, served[rows])
    asked_grades = _mask(query.grade_bands, GRADE_BITS)
    locale_mask = LOCALE_BITS.get(query.locale, 0)
    delivery_mask = _mask(query.delivery_modes, DELIVERY_BITS)
    priorities = np.array([need.priority for need in query.needs], np.float64)
    covered = best <= query.required_tier
    in_use = _in_use(arrays, freed_before)
    capacity, engaged = arrays.capacity[rows], in_use[rows]
    capacity_left = np.where(
        capacity > 0, np.clip((capacity - engaged) / np.maximum(capacity, 1), 0.0, 1.0), 0.0
    )
    locale_fit = (arrays.locale_bits[rows] & locale_mask) != 0
    components = (
        (covered * priorities).sum(axis=1) / priorities.sum(),
        np.where(best < NO_TIER, (5 - best) / 4, 0.0).sum(axis=1) / len(query.needs),
        arrays.due_diligence[rows],
        arrays.track_record[rows],
        capacity_left,
        (locale_fit + overlap.sum(axis=1) / len(query.needs)) / 2,
    )
    score = np.clip(
        sum(w * c for w, c in zip(weights.as_tuple(), components, strict=True)), 0.0, 1.0
    )
    failed = {
        ExclusionCode.GRADE_BAND_NOT_SERVED: (asked_grades & ~arrays.grade_bits[rows]) != 0,
        ExclusionCode.EVIDENCE_BELOW_MINIMUM: ~covered.any(axis=1),
        ExclusionCode.AT_CAPACITY: engaged >= capacity,
        ExclusionCode.OVER_BUDGET: arrays.cost_min[rows] > query.budget,
        ExclusionCode.DELIVERY_MODE_MISMATCH: np.full(len(rows), bool(delivery_mask))
        & ((arrays.delivery_bits[rows] & delivery_mask) == 0),
    }
    excluded = np.zeros(len(rows), np.bool_)
    for code, fails in failed.items():
        counts[code] += int(fails.sum())
        excluded |= fails
    keep = np.zeros(len(rows), np.bool_)
    keep[~excluded] = _best(score[~excluded], limit)
    keep[excluded] = _best(score[excluded], limit)
    return Shortlist([_on_day(arrays, row, in_use) for row in rows[keep]], counts)


@dataclass(frozen=True)
class CurrentArrays:
    """Partner arrays that take a change without being built again whole.

    A changed partner's row is `retired`, neither screened nor counted, and its current row,
    if it still has a term, is appended: arrays of the changed partners are built and joined
    to the rest, column by column. At national scale building the arrays whole takes about a
    tenth of a second, during which the worker answers nothing; a change takes a few
    milliseconds, and matches screen one set of arrays as before. Retired rows stay until the
    arrays are built whole again (`app.matching.index.REBUILD_AFTER`).
    """

    arrays: PartnerArrays
    rows: Mapping[uuid.UUID, int]  # each partner's current row
    retired: Bools
    changed: frozenset[uuid.UUID]  # since the arrays were built whole

    @classmethod
    def build(cls, partners: Sequence[tuple[Candidate, Term]]) -> "CurrentArrays":
        arrays = PartnerArrays.build(partners)
        return cls(
            arrays=arrays,
            rows={candidate.partner_id: row for row, candidate in enumerate(arrays.candidates)},
            retired=np.zeros(len(partners), np.bool_),
            changed=frozenset(),
        )

    def changing(
        self,
        changed: Collection[uuid.UUID],
        current: Callable[[uuid.UUID], tuple[Candidate, Term] | None],
    ) -> "CurrentArrays":
        """After ``changed`` partners changed; ``current`` gives a partner as it is now, or
        None when it has no term or is gone."""
        now = [pair for p in sorted(changed) if (pair := current(p)) is not None]
        first = len(self.arrays.candidates)
        retired = np.concatenate([self.retired, np.zeros(len(now), np.bool_)])
        retired[[self.rows[p] for p in changed if p in self.rows]] = True
        # Copied whole and then edited: a copy keeps the keys' hashes, where filtering
        # 15,000 UUIDs would hash each again in Python.
        rows = dict(self.rows)
        for partner_id in changed:
            rows.pop(partner_id, None)
        rows.update((candidate.partner_id, first + n) for n, (candidate, _t) in enumerate(now))
        return CurrentArrays(
            arrays=self.arrays.extended(PartnerArrays.build(now)),
            rows=rows,
            retired=retired,
            changed=self.changed.union(changed),
        )

    def shortlist(
        self,
        query: NeedsQuery,
        moment: datetime,
        weights: Weights,
        limit: int | None,
        *,
        without_term: int = 0,
        freed_before: date | None = None,
    ) -> Shortlist:
        """`shortlist` over every partner as it is now."""
        return shortlist(
            self.arrays,
            query,
            moment,
            weights,
            limit,
            without_term=without_term,
            freed_before=freed_before,
            retired=self.retired if self.changed else None,
        )


def _in_use(arrays: PartnerArrays, freed_before: date | None) -> Ints:
    """Per row, the active engagements that still use a place."""
    if freed_before is None:
        return arrays.engaged
    ended = arrays.ending_row[arrays.ending_day < freed_before.toordinal()]
    freed: Ints = arrays.engaged - np.bincount(ended, minlength=len(arrays.engaged))
    return freed


def _on_day(arrays: PartnerArrays, row: int, in_use: Ints) -> Candidate:
    candidate = arrays.candidates[row]
    if in_use[row] == candidate.active_engagements:
        return candidate
    return replace(candidate, active_engagements=int(in_use[row]))


def _evidence(
    arrays: PartnerArrays, query: NeedsQuery, rows: Ints, served: Bools
) -> tuple[Ints, Floats]:
    """Per chosen row and requested need: the best tier in context and the best overlap."""
    need_of_code = np.full(len(arrays.domain_codes) + 1, -1, np.int64)
    for position, requested in enumerate(query.needs):
        if (code := arrays.domain_codes.get(requested.need_domain)) is not None:
            need_of_code[code] = position
    # The chosen rows' supports only, a few hundred of the whole registry's: `at` is each
    # one's place in `rows`, `picked` its position in the support arrays.
    starts = arrays.support_start[rows]
    sizes = arrays.support_start[rows + 1] - starts
    at = np.repeat(np.arange(len(rows)), sizes)
    picked = np.arange(len(at)) + np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
    need = need_of_code[arrays.support_domain[picked]]
    asked = need >= 0
    picked, at, need = picked[asked], at[asked], need[asked]
    tier = arrays.support_tier[picked]
    grade_mask, locale_mask = _context(query)
    population = (arrays.support_grade_bits[picked] & grade_mask) != 0
    for group in query.student_groups:
        if (members := arrays.support_groups.get(group)) is not None:
            population |= members[picked]
    setting = (arrays.support_locale_bits[picked] & locale_mask) != 0
    # `classifier.tier_here`: tiers 1 and 2 fall to what the study's overlap supports.
    reachable = np.where(
        population & setting,
        Tier.STRONG,
        np.where(population | setting, Tier.MODERATE, Tier.PROMISING),
    )
    here = np.where(tier > Tier.MODERATE, tier, np.maximum(tier, reachable))
    best = np.full(served.shape, NO_TIER, np.int64)
    np.minimum.at(best, (at, need), here)
    overlap = np.zeros(served.shape, np.float64)
    np.maximum.at(overlap, (at, need), (population.astype(np.float64) + setting) / 2)
    # A need the partner does not serve has no tier, whatever evidence it holds there.
    return np.where(served, best, NO_TIER), np.where(served, overlap, 0.0)
