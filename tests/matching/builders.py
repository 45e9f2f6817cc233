"""Inputs for the matching engine: a profile and a partner that pass every constraint."""

import uuid
from dataclasses import replace
from datetime import date
from typing import Any

from app.evidence.classifier import Design, StandardsRating, Study, Tier
from app.matching.engine import Candidate, NeedRequest, NeedsQuery, Support
from app.needs.vocabulary import FundingSource

AS_OF = date(2026, 9, 1)


def study(
    grade_bands: frozenset[str] = frozenset({"elementary"}),
    locales: frozenset[str] = frozenset({"city"}),
    student_groups: frozenset[str] = frozenset(),
) -> Study:
    """A study known only by its population and setting, which is all matching reads."""
    return Study(
        design=Design.RCT,
        standards_rating=StandardsRating.MEETS_WITHOUT_RESERVATIONS,
        controls_for_selection_bias=True,
        sample_size=1000,
        site_count=10,
        grade_bands=grade_bands,
        locales=locales,
        student_groups=student_groups,
        has_logic_model=True,
        research_basis=True,
        ongoing_evaluation=True,
        findings=(),
    )


def support(need_domain: str, tier: Tier, evidence_id: str = "ev-1", **population: Any) -> Support:
    return Support(need_domain, evidence_id, tier, study(**population))


def query(**overrides: Any) -> NeedsQuery:
    values: dict[str, Any] = {
        "region": "north",
        "locale": "city",
        "grade_bands": frozenset({"elementary"}),
        "student_groups": frozenset({"english_learners"}),
        "needs": (NeedRequest("staffing", 5), NeedRequest("literacy", 2)),
        "funding_source": FundingSource.OTHER,
        "min_evidence_tier": Tier.RATIONALE,
        "budget": 50_000,
        "delivery_modes": frozenset({"onsite"}),
        "as_of": AS_OF,
    }
    return NeedsQuery(**(values | overrides))


def candidate(**overrides: Any) -> Candidate:
    values: dict[str, Any] = {
        "partner_id": uuid.uuid4(),
        "name": "Able Partners",
        "designated": True,
        "need_domains": frozenset({"staffing", "literacy", "instruction"}),
        "regions": frozenset({"north"}),
        "delivery_modes": frozenset({"onsite"}),
        "grade_bands": frozenset({"elementary", "middle"}),
        "locales": frozenset({"city"}),
        "cost_min": 10_000,
        "cost_max": 40_000,
        "capacity": 4,
        "active_engagements": 1,
        "due_diligence": 0.8,
        "track_record": None,
        "supports": (
            support("staffing", Tier.STRONG, "ev-staffing"),
            support("literacy", Tier.PROMISING, "ev-literacy"),
        ),
    }
    return Candidate(**(values | overrides))


def with_support(base: Candidate, extra: Support) -> Candidate:
    return replace(base, supports=(*base.supports, extra))
