"""Run a match and store it with what it was computed from. Flushes; never commits."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.principal import Principal
from app.core.base import moment_of, table_insert, utcnow
from app.core.config import Settings
from app.districts import repository as districts
from app.evidence.classifier import Tier
from app.matching import engine
from app.matching.index import MatchIndex
from app.matching.models import Match
from app.matching.schemas import MatchCreate, MatchRead
from app.needs import repository as needs_profiles
from app.needs.dependencies import DistrictNotFound, NeedsProfileNotFound
from app.needs.service import check_need_domains
from app.needs.vocabulary import FundingSource

# A match is written once and never read back in the request that makes it.
_INSERT = table_insert(Match)

# The profile fields a match reads and keeps, whether the profile is stored or inline.
PROFILE_FIELDS = {"needs", *(column.key for column in needs_profiles.MATCH_TERMS)}


async def _profile(
    session: AsyncSession, actor: Principal, data: MatchCreate
) -> needs_profiles.MatchTerms:
    """The district and the profile snapshot the match is computed from, as the caller may see."""
    if data.needs_id is not None:
        stored = await needs_profiles.get_match_terms(session, actor, data.needs_id)
        if stored is None:
            raise NeedsProfileNotFound(f"No needs profile {data.needs_id}.")
        return stored
    assert data.district_id is not None, "MatchCreate requires one or the other"
    snapshot = data.model_dump(mode="json", include=PROFILE_FIELDS)
    # Left out inline, as in a stored profile: no restriction.
    for name in ("grade_bands", "student_groups", "delivery_modes"):
        snapshot[name] = snapshot[name] or []
    district = await districts.get(session, actor, data.district_id)
    if district is None:
        raise DistrictNotFound(f"No district {data.district_id}.")
    await check_need_domains(
        session, [need["need_domain"] for need in snapshot["needs"]], ["body", "needs"]
    )
    return needs_profiles.MatchTerms(district.id, district.region, str(district.locale), snapshot)


def _query(inputs: dict[str, Any], as_of: date) -> engine.NeedsQuery:
    profile = inputs["profile"]
    return engine.NeedsQuery(
        region=inputs["region"],
        locale=inputs["locale"],
        grade_bands=frozenset(profile["grade_bands"]),
        student_groups=frozenset(profile["student_groups"]),
        needs=tuple(
            engine.NeedRequest(need["need_domain"], need["priority"]) for need in profile["needs"]
        ),
        funding_source=FundingSource(profile["funding_source"]),
        min_evidence_tier=Tier(profile["min_evidence_tier"]),
        budget=profile["budget_per_school_year"],
        delivery_modes=frozenset(profile["delivery_modes"]),
        as_of=as_of,
    )


def _needs(evaluation: engine.Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "need_domain": need.need_domain,
            "priority": need.priority,
            "served": need.served,
            "covered": need.covered,
            "required_tier": need.required_tier,
            "tier": need.tier,
            "context_free_tier": need.context_free_tier,
            "evidence_ids": list(need.evidence_ids),
        }
        for need in evaluation.needs
    ]


def _evaluation(evaluation: engine.Evaluation) -> dict[str, Any]:
    return {
        "partner_id": evaluation.partner_id,
        "name": evaluation.name,
        "score": evaluation.score,
        "components": evaluation.components,
        "needs": _needs(evaluation),
    }


def _response(
    match: dict[str, Any], outcome: engine.MatchOutcome, counts: dict[engine.ExclusionCode, int]
) -> MatchRead:
    return MatchRead.model_validate(
        {
            "id": match["id"],
            "created_at": match["created_at"],
            "needs_id": match["needs_id"],
            "district_id": match["district_id"],
            "as_of": match["as_of"],
            "limit": match["inputs"]["limit"],
            "weights": match["weights"],
            "results": [
                _evaluation(result.evaluation) | {"rank": result.rank} for result in outcome.results
            ],
            "excluded": [
                _evaluation(evaluation)
                | {
                    "reasons": [
                        {"code": reason.code, "message": reason.message}
                        for reason in evaluation.exclusions
                    ]
                }
                for evaluation in outcome.excluded
            ],
            "excluded_counts": {str(code): counts[code] for code in engine.ExclusionCode},
        }
    )


async def create(
    session: AsyncSession,
    actor: Principal,
    settings: Settings,
    index: MatchIndex,
    data: MatchCreate,
) -> MatchRead:
    profile = await _profile(session, actor, data)
    moment: datetime = moment_of(data.as_of)
    as_of = data.as_of or moment.date()
    inputs = {
        "profile": profile.terms,
        "region": profile.region,
        "locale": profile.locale,
        "limit": data.limit,
    }
    query = _query(inputs, as_of)
    weights = engine.Weights(**settings.match_weights)
    await index.refresh(session)
    created_at = utcnow()
    shortlisted = index.shortlist(query, moment, weights, data.limit, created_at.date())
    outcome = engine.match(query, shortlisted.candidates, weights, data.limit)
    counts = shortlisted.counts
    match_id = uuid.uuid4()
    match: dict[str, Any] = {
        "id": match_id,
        "created_at": created_at,
        "district_id": profile.district_id,
        "needs_id": data.needs_id,
        "created_by": actor.user_id,
        "as_of": as_of,
        "inputs": inputs,
        "weights": settings.match_weights,
    }
    read = _response(match, outcome, counts)
    # The model itself, not its dump: the JSON column's serializer (pydantic-core, see
    # `app.core.db`) writes it as `model_dump_json` would, without an intermediate dict.
    await session.execute(_INSERT, match | {"response": read})
    await record(
        session,
        actor,
        "match.created",
        "match",
        match_id,
        {
            "needs_id": data.needs_id,
            "district_id": profile.district_id,
            "as_of": as_of,
            "results": len(outcome.results),
            "excluded_counts": {code: n for code, n in read.excluded_counts.items() if n},
        },
    )
    return read
