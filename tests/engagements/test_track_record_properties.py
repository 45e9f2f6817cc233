"""Properties of the track record: bounded and monotone in every input."""

from hypothesis import given
from hypothesis import strategies as st

from app.engagements.track_record import (
    QUALITIES,
    RATING_MAX,
    RATING_MIN,
    UNKNOWN,
    Progress,
    check_in_score,
    track_record,
)


def record_of(engagement_scores: list[float]) -> float | None:
    return track_record(sum(engagement_scores), len(engagement_scores))


ratings = st.fixed_dictionaries(
    {quality: st.integers(RATING_MIN, RATING_MAX) for quality in QUALITIES}
)
progresses = st.sampled_from(list(Progress))
scores = st.floats(0, 1, allow_nan=False)
# Worst to best, as listed.
ORDER = list(Progress)[::-1]


@given(progresses, ratings)
def test_a_check_in_scores_between_0_and_1(progress: Progress, rated: dict[str, int]) -> None:
    assert 0 <= check_in_score(progress, rated) <= 1


@given(progresses, ratings, st.sampled_from(QUALITIES))
def test_a_better_rating_never_lowers_a_check_in(
    progress: Progress, rated: dict[str, int], quality: str
) -> None:
    better = rated | {quality: min(rated[quality] + 1, RATING_MAX)}
    assert check_in_score(progress, better) >= check_in_score(progress, rated)


@given(progresses, progresses, ratings)
def test_better_progress_never_lowers_a_check_in(
    one: Progress, other: Progress, rated: dict[str, int]
) -> None:
    worse, better = sorted((one, other), key=ORDER.index)
    assert check_in_score(better, rated) >= check_in_score(worse, rated)


def test_the_extremes() -> None:
    assert check_in_score(Progress.MET, dict.fromkeys(QUALITIES, RATING_MAX)) == 1
    assert check_in_score(Progress.NO_PROGRESS, dict.fromkeys(QUALITIES, RATING_MIN)) == 0
    assert track_record(0, 0) is None


@given(st.lists(scores, min_size=1, max_size=30))
def test_a_track_record_lies_between_its_worst_engagement_and_unknown_and_its_best(
    engagement_scores: list[float],
) -> None:
    record = record_of(engagement_scores)
    assert record is not None
    assert min([*engagement_scores, UNKNOWN]) - 1e-12 <= record
    assert record <= max([*engagement_scores, UNKNOWN]) + 1e-12


@given(st.lists(scores, max_size=30), scores)
def test_an_engagement_above_the_record_never_lowers_it_and_one_below_never_raises_it(
    engagement_scores: list[float], new: float
) -> None:
    before = record_of(engagement_scores)
    before = UNKNOWN if before is None else before
    after = record_of([*engagement_scores, new])
    assert after is not None
    if new >= before:
        assert after >= before - 1e-12
    else:
        assert after <= before + 1e-12


@given(st.lists(scores, min_size=1, max_size=30), st.data())
def test_a_better_engagement_never_lowers_the_record(
    engagement_scores: list[float], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(engagement_scores) - 1))
    improved = list(engagement_scores)
    improved[index] = data.draw(st.floats(engagement_scores[index], 1))
    assert (record_of(improved) or 0) >= (record_of(engagement_scores) or 0) - 1e-12
