"""A partner's track record from its engagements' check-ins: pure rules, no I/O.

At each check-in (at least quarterly) the district records progress against the engagement's
goals and rates the support on the six qualities of support in the seeds (aligned,
responsive, evidence-based, shared intensity, stable, coherent). A check-in scores the mean of
its progress and its ratings, each on [0, 1]. An engagement counts with its latest check-in:
where it stands now, or where it ended.

The track record is the mean over the partner's engagements, pulled towards the unknown 0.5
as if by `PRIOR_ENGAGEMENTS` engagements of 0.5: a partner is to deliver *consistently*, so one
good engagement is a good sign, not yet a record (0.67 rather than 1).
"""

from collections.abc import Mapping
from enum import StrEnum

RATING_MIN, RATING_MAX = 1, 4
UNKNOWN = 0.5
PRIOR_ENGAGEMENTS = 2


class Progress(StrEnum):
    """Progress against the engagement's goals, as the district sees it at a check-in."""

    MET = "met"
    ON_TRACK = "on_track"
    SOME_PROGRESS = "some_progress"
    NO_PROGRESS = "no_progress"


PROGRESS_SCORE = {
    Progress.MET: 1.0,
    Progress.ON_TRACK: 2 / 3,
    Progress.SOME_PROGRESS: 1 / 3,
    Progress.NO_PROGRESS: 0.0,
}

# The six qualities of support (seeds: "Quality of Support"), each rated 1 (not yet) to 4 (fully).
QUALITIES = (
    "aligned",
    "responsive",
    "evidence_based",
    "shared_intensity",
    "stable",
    "coherent",
)


def check_in_score(progress: Progress, ratings: Mapping[str, int]) -> float:
    """A check-in on [0, 1]: progress and the mean rating of the qualities, equally weighted."""
    span = RATING_MAX - RATING_MIN
    quality = sum((ratings[name] - RATING_MIN) / span for name in QUALITIES) / len(QUALITIES)
    return (PROGRESS_SCORE[progress] + quality) / 2


def track_record(total: float, engagements: int) -> float | None:
    """The partner's track record from the ``total`` of its ``engagements``' latest check-in
    scores; None without any, which matching scores as unknown (0.5)."""
    if engagements == 0:
        return None
    return (total + UNKNOWN * PRIOR_ENGAGEMENTS) / (engagements + PRIOR_ENGAGEMENTS)
