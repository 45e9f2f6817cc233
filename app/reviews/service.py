"""The rules of due diligence: rubrics, reviews, scores and decisions. Flushes; never commits."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.core.db import flush_or_raise
from app.core.errors import Conflict, InvalidInput, PreconditionFailed
from app.designations import service as designations
from app.partners import repository as partner_repository
from app.partners import service as partners
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Partner
from app.reviews import repository
from app.reviews.models import (
    APPROVING,
    Review,
    ReviewDecision,
    ReviewDecisionKind,
    Rubric,
    Score,
    ScoreSheet,
)
from app.reviews.schemas import DecisionCreate, ReviewCreate, RubricCreate, ScoresPut
from app.reviews.scoring import Criterion, Summary, summarise

# The rubric a review uses when none is named; seed/reference/rubric_default.json defines it.
DEFAULT_RUBRIC = "Priority Partner due diligence"
OUTCOMES = {
    ReviewDecisionKind.APPROVE: PartnerStatus.APPROVED,
    ReviewDecisionKind.APPROVE_WITH_CONDITIONS: PartnerStatus.APPROVED,
    ReviewDecisionKind.DENY: PartnerStatus.DENIED,
}


class ReviewClosed(Conflict):
    title = "Review already decided"


class ConflictOfInterest(Conflict):
    title = "Conflict of interest declared"


async def create_rubric(session: AsyncSession, actor: Principal, data: RubricCreate) -> Rubric:
    rubric = Rubric(
        name=data.name,
        version=await repository.next_rubric_version(session, data.name),
        criteria=[criterion.model_dump() for criterion in data.criteria],
        scale_min=data.scale.min,
        scale_max=data.scale.max,
    )
    session.add(rubric)
    await flush_or_raise(
        session, Conflict(f"Another version of {data.name!r} was saved at the same moment; retry.")
    )
    await record(
        session,
        actor,
        "rubric.created",
        "rubric",
        rubric.id,
        {"name": rubric.name, "version": rubric.version} | data.model_dump(mode="json"),
    )
    return rubric


async def open_review(
    session: AsyncSession, actor: Principal, partner: Partner, data: ReviewCreate
) -> Review:
    status = partner.status_on(utcnow())
    if status is not PartnerStatus.UNDER_REVIEW:
        raise Conflict(f"Only a partner under_review can be reviewed; this one is {status}.")
    # Two reviews opened at once would split the scores between them.
    await partner_repository.lock(session, [partner.id])
    already = await repository.open_review(session, partner.id)
    if already is not None:
        raise Conflict(f"The partner's review {already.id} is still open; decide it first.")
    if data.rubric_id is None:
        rubric = await repository.latest_rubric(session, DEFAULT_RUBRIC)
        if rubric is None:
            raise Conflict("The default rubric is missing; run `registry migrate`.")
    else:
        found = await repository.rubric(session, data.rubric_id)
        if found is None:
            raise InvalidInput(["body", "rubric_id"], "No such rubric.", "rubric_unknown")
        rubric = found
    review = Review(
        partner_id=partner.id,
        rubric=rubric,
        opened_by=actor.user_id,
        sheets=[],
        decision=None,
    )
    session.add(review)
    await session.flush()
    await record(
        session,
        actor,
        "review.opened",
        "review",
        review.id,
        {"partner_id": partner.id, "rubric_id": rubric.id, "rubric_version": rubric.version},
    )
    return review


def _check_scores(rubric: Rubric, data: ScoresPut) -> None:
    for index, score in enumerate(data.scores):
        if rubric.criterion(score.criterion) is None:
            raise InvalidInput(
                ["body", "scores", index, "criterion"],
                f"{score.criterion!r} is not a criterion of {rubric.name} v{rubric.version}.",
                "criterion_unknown",
            )
        if not rubric.scale_min <= score.score <= rubric.scale_max:
            raise InvalidInput(
                ["body", "scores", index, "score"],
                f"Scores run from {rubric.scale_min} to {rubric.scale_max}.",
                "score_out_of_scale",
            )


def _replace_scores(sheet: ScoreSheet, data: ScoresPut) -> None:
    # Update rows in place: deleting and re-adding a (sheet, criterion) key in one flush clashes.
    existing = {score.criterion: score for score in sheet.scores}
    kept = []
    for item in data.scores:
        score = existing.get(item.criterion) or Score(criterion=item.criterion)
        score.score, score.notes = item.score, item.notes
        kept.append(score)
    sheet.scores = kept


async def put_scores(
    session: AsyncSession,
    actor: Principal,
    review: Review,
    sheet: ScoreSheet | None,
    data: ScoresPut,
) -> ScoreSheet:
    """Write the caller's score sheet; a declared conflict is kept, with every score withdrawn.

    The caller answers 409 when ``conflict_declared`` is set, after this has recorded it.
    """
    if review.decision is not None:
        raise ReviewClosed("This review has been decided; its scores are final.")
    if sheet is not None and sheet.conflict_declared:
        raise ConflictOfInterest("You declared a conflict of interest on this review.")
    declared = data.conflict_of_interest.declared
    if not declared:
        _check_scores(review.rubric, data)
    before = None if sheet is None else _sheet_snapshot(sheet)
    if sheet is None:
        sheet = ScoreSheet(reviewer_id=actor.user_id, scores=[])
    sheet.conflict_declared = declared
    sheet.conflict_statement = data.conflict_of_interest.statement
    if declared:
        sheet.scores = []
    else:
        _replace_scores(sheet, data)
    after = _sheet_snapshot(sheet)
    if before is None:
        review.sheets.append(sheet)
        await flush_or_raise(
            session,
            PreconditionFailed(
                "Your score sheet was just created by another request; read it and retry."
            ),
        )
        changes = after
    else:
        changes = diff(before, after)
        if not changes:
            return sheet  # nothing to write: the version stays
        # Score rows are children: touch the sheet so that its version moves with them.
        sheet.updated_at = utcnow()
        await session.flush()
    await record(
        session,
        actor,
        "review.conflict_declared" if declared else "review.scored",
        "review",
        review.id,
        {"sheet_id": sheet.id} | changes,
    )
    return sheet


def _sheet_snapshot(sheet: ScoreSheet) -> dict[str, Any]:
    return {
        "conflict_of_interest": {
            "declared": sheet.conflict_declared,
            "statement": sheet.conflict_statement,
        },
        "scores": {score.criterion: score.score for score in sheet.scores},
        "notes": {score.criterion: score.notes for score in sheet.scores},
    }


def summary(review: Review) -> Summary:
    rubric = review.rubric
    criteria = [Criterion(row["code"], row["weight"], row["required"]) for row in rubric.criteria]
    sheets = [
        {score.criterion: score.score for score in sheet.scores}
        for sheet in review.sheets
        if not sheet.conflict_declared
    ]
    return summarise(criteria, (rubric.scale_min, rubric.scale_max), sheets)


def _check_may_decide(actor: Principal, review: Review, data: DecisionCreate) -> None:
    """Four eyes: nobody decides alone, and nobody with a declared conflict decides at all."""
    if review.decision is not None:
        raise ReviewClosed("This review has been decided; a review takes one decision.")
    if any(
        sheet.conflict_declared and sheet.reviewer_id == actor.user_id for sheet in review.sheets
    ):
        raise ConflictOfInterest("You declared a conflict of interest; another reviewer decides.")
    if data.decision is ReviewDecisionKind.DEFER:
        return
    other_scorers = {
        sheet.reviewer_id
        for sheet in review.sheets
        if sheet.scores and not sheet.conflict_declared and sheet.reviewer_id != actor.user_id
    }
    if not other_scorers:
        raise Conflict(
            "Four eyes: a reviewer other than you must score this review before it is decided."
        )
    if data.decision in APPROVING:
        missing = list(summary(review).unscored_required)
        if missing:
            raise Conflict(
                f"Approval needs every required criterion scored; missing: {', '.join(missing)}.",
                missing=missing,
            )


async def decide(
    session: AsyncSession,
    actor: Principal,
    review: Review,
    partner: Partner,
    data: DecisionCreate,
    default_term_months: int,
) -> Review:
    await repository.lock(session, review.id)
    _check_may_decide(actor, review, data)
    now = utcnow()
    status = partner.status_on(now)
    if status is not PartnerStatus.UNDER_REVIEW:
        raise Conflict(f"The partner is {status}, no longer under_review; it cannot be decided.")
    term_months = (data.term_months or default_term_months) if data.decision in APPROVING else None
    decision = ReviewDecision(
        review_id=review.id,
        decision=data.decision,
        term_months=term_months,
        conditions=data.conditions,
        rationale=data.rationale,
        decided_by=actor.user_id,
        decided_at=now,
    )
    # A concurrent decider waits on the review lock and then sees this decision; the
    # review's primary key on the decision stays the last word should one get this far.
    session.add(decision)
    await flush_or_raise(
        session, ReviewClosed("Another reviewer decided this review a moment ago.")
    )
    changes: dict[str, Any] = {
        "partner_id": partner.id,
        "decision": data.decision,
        "term_months": term_months,
        "conditions": data.conditions,
        "rationale": data.rationale,
    }
    if data.decision is not ReviewDecisionKind.DEFER:
        target = OUTCOMES[data.decision]
        term = None
        if term_months is not None:
            term = (now, designations.term_end(now, term_months))
        reason = None if term else f"Denied by due-diligence review {review.id}."
        before = await partners.apply_decision(
            session, actor, partner, target, term, reason, review.id
        )
        changes["status"] = [before, target]
        if term is None:
            await designations.end_current(session, partner.id, now, "renewal denied")
        else:
            designation = await designations.start(
                session, partner.id, review.id, term, data.conditions
            )
            changes |= {"designation_id": designation.id, "expires_at": term[1]}
    review.decision = decision
    await record(session, actor, "review.decided", "review", review.id, changes)
    return review
