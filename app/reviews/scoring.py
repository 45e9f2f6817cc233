"""The weighted overall score of a review: pure arithmetic, no I/O.

For each criterion, the reviewers' scores are averaged (reviewers who declared a conflict have
no scores, so they never count). Each average is put on [0, 1] with the rubric's scale,
``(mean - min) / (max - min)``, and the overall score is the weighted mean of those over the
criteria scored so far, ``sum(weight * normalised) / sum(weight)``. Criteria nobody scored are
left out rather than counted as zero, and listed, so the overall score is never a guess.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean


@dataclass(frozen=True)
class Criterion:
    code: str
    weight: int
    required: bool


@dataclass(frozen=True)
class CriterionScore:
    code: str
    mean: float | None
    normalised: float | None
    reviewers: int


@dataclass(frozen=True)
class Summary:
    criteria: tuple[CriterionScore, ...]
    overall: float | None
    unscored_required: tuple[str, ...]


def summarise(
    criteria: Sequence[Criterion],
    scale: tuple[int, int],
    sheets: Iterable[Mapping[str, int]],
) -> Summary:
    """Combine every reviewer's ``{criterion: score}`` into per-criterion and overall scores."""
    low, high = scale
    by_code: dict[str, list[int]] = {criterion.code: [] for criterion in criteria}
    for sheet in sheets:
        for code, score in sheet.items():
            by_code[code].append(score)
    results = []
    for criterion in criteria:
        scores = by_code[criterion.code]
        mean = fmean(scores) if scores else None
        normalised = None if mean is None else (mean - low) / (high - low)
        results.append(CriterionScore(criterion.code, mean, normalised, len(scores)))
    weights = {criterion.code: criterion.weight for criterion in criteria}
    scored = [result for result in results if result.normalised is not None]
    total = sum(weights[result.code] for result in scored)
    overall = (
        sum(weights[result.code] * (result.normalised or 0.0) for result in scored) / total
        if total
        else None
    )
    return Summary(
        criteria=tuple(results),
        overall=overall,
        unscored_required=tuple(
            criterion.code
            for criterion in criteria
            if criterion.required and not by_code[criterion.code]
        ),
    )
