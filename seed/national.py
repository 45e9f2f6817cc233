"""A national registry for load tests: every state's partners, evidence, districts and needs.

At scale 1.0: 20,000 partners, about 43,000 evidence records with about 200,000 findings,
13,000 districts, 50,000 needs profiles, the reviews and designations of every partner that
got that far, and the engagements that use up part of their capacity, with a check-in a
quarter. Seeded random, so one seed always gives the same registry (ids, names and values;
dates count back from today).

Realism where it matters to the queries: districts per state follow the real count of local
education agencies (NCES, rounded) and each state is cut into 1 to 6 regions (`ca-1`..`ca-6`);
a partner serves 1 to 4 regions of its home state, and a quarter deliver virtually. Study
designs, sample sizes, significance and subgroup shares follow the WWC findings export
(`data/wwc/`: sample-size quartiles 113 / 430 / 1,534, a third significant) widened with the
logic models and correlational studies partners submit, so most accepted evidence lands in
tiers 3 and 4 and fewer records reach tiers 1 and 2. Every tier is computed by the real
classifier and rolled up by the real rule, so `partner_evidence_tiers` agrees with the
accepted evidence exactly as if each record had gone through review.

Rows go in through bulk inserts in one transaction, never through the ORM unit of work, and
the run records one audit event, `dataset.generated`, which also marks the data set as present:
a second run finds it and does nothing.
"""

import json
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEvent
from app.audit.service import record
from app.auth import service as auth_service
from app.auth.models import Role
from app.auth.schemas import ApiKeyCreate, UserCreate
from app.core.base import Base, utcnow
from app.core.config import Settings
from app.core.vocabulary import DeliveryMode, GradeBand, Locale
from app.designations.models import Designation
from app.designations.service import term_end
from app.districts.models import AccountabilityStatus, District
from app.engagements.lifecycle import EngagementStatus
from app.engagements.models import CheckIn, Engagement
from app.engagements.track_record import (
    QUALITIES,
    RATING_MAX,
    RATING_MIN,
    Progress,
    check_in_score,
)
from app.evidence.classifier import (
    Design,
    Direction,
    Finding,
    StandardsRating,
    Study,
    Thresholds,
    Tier,
    classify,
)
from app.evidence.models import (
    Evidence,
    EvidenceDecision,
    EvidenceDecisionKind,
    EvidenceFinding,
    EvidenceStatus,
)
from app.evidence.rollup import partner_tiers
from app.evidence.schemas import reasons_json
from app.evidence.service import classification_json, thresholds
from app.matching.repository import mark_every_partner_changed
from app.need_domains.models import NeedDomain
from app.needs.models import NeedsProfile, ProfileNeed
from app.needs.vocabulary import FundingSource
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Facet, Partner, PartnerEvidenceTier, PartnerFacet
from app.partners.repository import fill_pairs
from app.reviews.models import Review, ReviewDecision, ReviewDecisionKind, Rubric, Score, ScoreSheet
from seed.loader import DAYS_PER_MONTH, SYSTEM

MARKER_ACTION = "dataset.generated"
# Worst to best, for check-ins rated around a partner's quality.
PROGRESS_ORDER = (Progress.NO_PROGRESS, Progress.SOME_PROGRESS, Progress.ON_TRACK, Progress.MET)
BENCH_ADMIN_EMAIL = "bench-admin@bench.registry.example.org"
BENCH_DISTRICT_EMAIL = "bench-district@bench.registry.example.org"
# Rows per INSERT round trip: large enough to amortise it, small enough to bound memory.
BATCH = 5_000
TERM_MONTHS = 36

FULL_SCALE = {"partners": 20_000, "districts": 13_000, "needs_profiles": 50_000}

# Regular school districts per state (NCES Common Core of Data, rounded): the weights by which
# districts and partners are spread over the country. DC and Hawaii are single districts.
STATES: dict[str, int] = {
    "al": 138, "ak": 53, "az": 230, "ar": 235, "ca": 1000, "co": 178, "ct": 170, "de": 19,
    "dc": 1, "fl": 67, "ga": 180, "hi": 1, "id": 115, "il": 855, "in": 290, "ia": 327,
    "ks": 286, "ky": 171, "la": 69, "me": 230, "md": 24, "ma": 290, "mi": 540, "mn": 330,
    "ms": 140, "mo": 518, "mt": 400, "ne": 244, "nv": 17, "nh": 170, "nj": 580, "nm": 89,
    "ny": 690, "nc": 115, "nd": 175, "oh": 610, "ok": 510, "or": 197, "pa": 500, "ri": 36,
    "sc": 79, "sd": 150, "tn": 140, "tx": 1020, "ut": 41, "vt": 240, "va": 132, "wa": 295,
    "wv": 55, "wi": 420, "wy": 48,
}  # fmt: skip

# How often partners claim each need domain: the instructional core and leadership dominate.
DOMAIN_WEIGHTS = {
    "instruction": 14, "literacy": 12, "mathematics": 10, "leadership": 10, "staffing": 8,
    "data_use": 7, "climate_culture": 8, "student_supports": 7, "learning_time": 5,
    "family_engagement": 5, "graduation": 5, "english_learners": 5, "special_education": 4,
}  # fmt: skip
STUDENT_GROUPS = ["english_learners", "students_with_disabilities", "low_income", "homeless",
                  "foster_care", "migrant"]  # fmt: skip

# Where a partner stands, with the share of partners there. 56 % approved in term plus 4 %
# renewing a running term: about 60 % hold an active designation.
STANDINGS = {
    "draft": 4, "submitted": 5, "first_review": 4, "withdrawn": 3, "denied": 7,
    "active": 56, "renewing": 4, "lapsed": 7, "suspended": 5, "expired_then_withdrawn": 5,
}  # fmt: skip
DESIGNATED = frozenset({"active", "renewing", "lapsed", "suspended", "expired_then_withdrawn"})
STATUS_OF = {
    "draft": PartnerStatus.DRAFT,
    "submitted": PartnerStatus.SUBMITTED,
    "first_review": PartnerStatus.UNDER_REVIEW,
    "withdrawn": PartnerStatus.WITHDRAWN,
    "denied": PartnerStatus.DENIED,
    "active": PartnerStatus.APPROVED,
    "renewing": PartnerStatus.UNDER_REVIEW,
    # Stored as approved: a designation past its term reads as expired with no job to run.
    "lapsed": PartnerStatus.APPROVED,
    "suspended": PartnerStatus.SUSPENDED,
    "expired_then_withdrawn": PartnerStatus.WITHDRAWN,
}

DESIGNS = {
    Design.RCT: 22, Design.QED: 18, Design.RDD: 2, Design.CORRELATIONAL: 22,
    Design.LOGIC_MODEL: 28, Design.OTHER: 8,
}  # fmt: skip
CAUSAL_RATINGS = {
    StandardsRating.MEETS_WITHOUT_RESERVATIONS: 35, StandardsRating.MEETS_WITH_RESERVATIONS: 30,
    StandardsRating.DOES_NOT_MEET: 20, StandardsRating.NOT_REVIEWED: 15,
}  # fmt: skip
RECORDS_PER_PARTNER = {0: 17, 1: 26, 2: 25, 3: 14, 4: 9, 5: 5, 6: 4}  # mean 2.03
FINDINGS_PER_RECORD = {1: 8, 2: 10, 3: 12, 4: 14, 5: 14, 6: 12, 7: 10, 8: 10, 9: 10}  # mean 5
OUTCOMES = ["state assessment scores", "attendance", "chronic absenteeism", "graduation rate",
            "teacher retention", "suspensions", "course completion", "reading fluency",
            "on-track to graduate", "family participation", "English proficiency gains",
            "school climate survey"]  # fmt: skip

SCHOOL_LEVELS = ["Elementary", "Middle", "High"]
STUDY_KINDS = ["Evaluation", "Impact study", "Outcomes report", "Program review"]
ADJECTIVES = ["Bright", "Summit", "Northstar", "Keystone", "Pathway", "Horizon", "Cornerstone",
              "Evergreen", "Beacon", "Compass", "Catalyst", "Harbor", "Prairie", "Riverside",
              "Lighthouse", "Momentum", "Bridge", "Elevate", "Thrive", "Anchor"]  # fmt: skip
NOUNS = {
    "instruction": "Instructional", "literacy": "Literacy", "mathematics": "Math",
    "leadership": "Leadership", "staffing": "Teacher Residency", "data_use": "Data Teams",
    "climate_culture": "Climate", "student_supports": "Student Supports",
    "learning_time": "Extended Learning", "family_engagement": "Family Partnership",
    "graduation": "Graduation", "english_learners": "Language Learners",
    "special_education": "Inclusive Education",
}  # fmt: skip
KINDS = ["Partners", "Collaborative", "Institute", "Network", "Group", "Project", "Alliance",
         "Associates", "Foundation", "Initiative"]  # fmt: skip
PLACES = ["Oak", "Cedar", "Maple", "Pine", "Willow", "Elm", "Ash", "Birch", "Spruce", "Aspen",
          "Clear", "Silver", "Stone", "Red", "Green", "Fair", "Spring", "Lake", "Hill",
          "Mill"]  # fmt: skip
PLACE_ENDINGS = ["ville", " Valley", " Creek", "field", " County", " Springs", "wood", " Heights",
                 "ton", " Plains"]  # fmt: skip

K = TypeVar("K")


def _pick(rng: random.Random, weights: Mapping[K, float]) -> K:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _some(rng: random.Random, values: Sequence[K], low: int, high: int) -> list[K]:
    return rng.sample(list(values), rng.randint(low, min(high, len(values))))


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def regions_of(state: str) -> list[str]:
    """A state's regions: the larger the state, the more (1 to 6)."""
    count = max(1, min(6, round(math.sqrt(STATES[state]) / 5)))
    return [f"{state}-{number}" for number in range(1, count + 1)]


@dataclass
class Rows:
    """Every row of the data set, table by table, in insert order."""

    tables: dict[type[Base], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, model: type[Base], row: dict[str, Any]) -> None:
        self.tables[model].append(row)

    def count(self, model: type[Base]) -> int:
        return len(self.tables[model])


@dataclass(frozen=True)
class PartnerPlan:
    id: uuid.UUID
    standing: str
    domains: list[str]
    regions: list[str]
    grade_bands: list[str]
    locales: list[str]
    capacity: int


@dataclass
class Generator:
    rng: random.Random
    now: datetime
    limits: Thresholds
    rubric: Rubric
    rows: Rows = field(default_factory=Rows)
    districts_by_region: dict[str, list[uuid.UUID]] = field(
        default_factory=lambda: defaultdict(list)
    )
    profiles_by_district: dict[uuid.UUID, list[uuid.UUID]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Each engaged partner's quality of support, 0 to 1, around which its check-ins are rated.
    quality: dict[uuid.UUID, float] = field(default_factory=dict)
    region_of: dict[uuid.UUID, str] = field(default_factory=dict)

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def stamps(self, days_ago: float) -> dict[str, Any]:
        at = self.ago(days_ago)
        return {"created_at": at, "updated_at": at, "version": 1}

    # Districts and needs ------------------------------------------------------------------

    def districts(self, count: int) -> None:
        states = self.rng.choices(list(STATES), weights=list(STATES.values()), k=count)
        serial: dict[str, int] = defaultdict(int)
        for state in states:
            serial[state] += 1
            fips = list(STATES).index(state) + 1
            district_id = _uuid(self.rng)
            region = self.rng.choice(regions_of(state))
            place = self.rng.choice(PLACES) + self.rng.choice(PLACE_ENDINGS)
            self.rows.add(
                District,
                {
                    "id": district_id,
                    "name": f"{place} School District ({state.upper()}-{serial[state]:04d})",
                    "nces_id": f"{fips:02d}{serial[state]:05d}",
                    "region": region,
                    # Most local education agencies are rural or small-town.
                    "locale": _pick(
                        self.rng,
                        {Locale.RURAL: 50, Locale.TOWN: 20, Locale.SUBURB: 20, Locale.CITY: 10},
                    ),
                    "enrollment": max(40, int(self.rng.lognormvariate(math.log(1_200), 1.2))),
                    "accountability_status": _pick(
                        self.rng,
                        {
                            AccountabilityStatus.NONE: 60,
                            AccountabilityStatus.TSI: 20,
                            AccountabilityStatus.ATSI: 10,
                            AccountabilityStatus.CSI: 10,
                        },
                    ),
                    **self.stamps(self.rng.uniform(30, 900)),
                },
            )
            self.districts_by_region[region].append(district_id)
            self.region_of[district_id] = region

    def needs_profiles(self, count: int) -> None:
        districts = self.rows.tables[District]
        # Larger districts describe more schools' needs.
        weights = [math.sqrt(row["enrollment"]) for row in districts]
        for district in self.rng.choices(districts, weights=weights, k=count):
            profile_id = _uuid(self.rng)
            domains = self.rng.sample(list(DOMAIN_WEIGHTS), self.rng.choice([1, 2, 2, 3, 3, 4]))
            school = self.rng.random() < 0.5
            improvement = district["accountability_status"] is not AccountabilityStatus.NONE
            self.rows.add(
                NeedsProfile,
                {
                    "id": profile_id,
                    "district_id": district["id"],
                    "title": f"{NOUNS[domains[0]]} support {self.rng.randint(2026, 2028)}",
                    "school_name": (
                        f"{self.rng.choice(PLACES)} {self.rng.choice(SCHOOL_LEVELS)}"
                        if school
                        else None
                    ),
                    "grade_bands": sorted(_some(self.rng, list(GradeBand), 1, 3)),
                    "student_groups": sorted(_some(self.rng, STUDENT_GROUPS, 0, 2)),
                    "funding_source": (
                        FundingSource.TITLE_I_1003
                        if improvement and self.rng.random() < 0.7
                        else FundingSource.OTHER
                    ),
                    "min_evidence_tier": _pick(self.rng, {1: 5, 2: 15, 3: 50, 4: 30}),
                    "budget_per_school_year": self.rng.randrange(20_000, 300_000, 5_000),
                    "delivery_modes": (
                        []
                        if self.rng.random() < 0.4
                        else sorted(_some(self.rng, list(DeliveryMode), 1, 2))
                    ),
                    "readiness": (
                        {
                            name: self.rng.randint(1, 5)
                            for name in (
                                "beliefs",
                                "collective_efficacy",
                                "adequate_resources",
                                "policy_environment",
                            )
                        }
                        if self.rng.random() < 0.5
                        else None
                    ),
                    **self.stamps(self.rng.uniform(1, 400)),
                },
            )
            for position, domain in enumerate(domains):
                self.rows.add(
                    ProfileNeed,
                    {
                        "profile_id": profile_id,
                        "need_domain": domain,
                        "priority": self.rng.randint(1, 5),
                        "position": position,
                    },
                )
            self.profiles_by_district[district["id"]].append(profile_id)

    # Partners -----------------------------------------------------------------------------

    def partners(self, count: int) -> list[PartnerPlan]:
        states = self.rng.choices(list(STATES), weights=list(STATES.values()), k=count)
        plans = []
        for serial, state in enumerate(states, start=1):
            plan = PartnerPlan(
                id=_uuid(self.rng),
                standing=_pick(self.rng, STANDINGS),
                domains=sorted(
                    set(
                        self.rng.choices(
                            list(DOMAIN_WEIGHTS),
                            weights=list(DOMAIN_WEIGHTS.values()),
                            k=self.rng.randint(1, 4),
                        )
                    )
                ),
                regions=sorted(_some(self.rng, regions_of(state), 1, 4)),
                grade_bands=sorted(_some(self.rng, list(GradeBand), 1, 4)),
                locales=sorted(_some(self.rng, list(Locale), 1, 4)),
                capacity=self.rng.randint(2, 16),
            )
            self._partner_row(plan, state, serial)
            plans.append(plan)
        return plans

    def _partner_row(self, plan: PartnerPlan, state: str, serial: int) -> None:
        name = (
            f"{self.rng.choice(ADJECTIVES)} {NOUNS[plan.domains[0]]} "
            f"{self.rng.choice(KINDS)} ({state.upper()}-{serial:05d})"
        )
        virtual = self.rng.random() < 0.25
        modes = [DeliveryMode.ONSITE] if self.rng.random() < 0.9 or not virtual else []
        if virtual:
            modes.append(DeliveryMode.VIRTUAL)
        if self.rng.random() < 0.3:
            modes.append(DeliveryMode.HYBRID)
        cost_min = self.rng.randrange(10_000, 150_000, 1_000)
        facets: dict[Facet, Sequence[str]] = {
            Facet.NEED_DOMAIN: plan.domains,
            Facet.REGION: plan.regions,
            Facet.GRADE_BAND: plan.grade_bands,
            Facet.LOCALE: plan.locales,
            Facet.DELIVERY_MODE: modes,
        }
        for facet, values in facets.items():
            for value in values:
                self.rows.add(
                    PartnerFacet, {"partner_id": plan.id, "facet": facet, "value": str(value)}
                )
        domain_names = ", ".join(NOUNS[domain].lower() for domain in plan.domains)
        self.rows.add(
            Partner,
            {
                "id": plan.id,
                "name": name,
                "description": (
                    f"Works with {state.upper()} schools and districts on {domain_names}, "
                    f"from {plan.grade_bands[0]} to {plan.grade_bands[-1]} grades."
                ),
                "website": f"https://partner-{serial:05d}.example.org",
                "capacity": plan.capacity,
                "cost_min": cost_min,
                "cost_max": int(cost_min * self.rng.uniform(1.2, 3.0)),
                "status": STATUS_OF[plan.standing],
                "status_reason": None,
                "approved_at": None,
                "expires_at": None,
                "notes": "",
                **self.stamps(self.rng.uniform(400, 2_000)),
            },
        )

    # Reviews and designations -------------------------------------------------------------

    def due_diligence(self, plans: Sequence[PartnerPlan]) -> None:
        partners = {row["id"]: row for row in self.rows.tables[Partner]}
        for plan in plans:
            partner = partners[plan.id]
            if plan.standing == "first_review":
                self._review(plan.id, None, self.rng.uniform(5, 60))
            elif plan.standing == "denied":
                self._review(plan.id, ReviewDecisionKind.DENY, self.rng.uniform(30, 400))
            elif plan.standing in DESIGNATED:
                self._designation(plan, partner)

    def _designation(self, plan: PartnerPlan, partner: dict[str, Any]) -> None:
        term = TERM_MONTHS * DAYS_PER_MONTH
        lapsed = plan.standing in {"lapsed", "expired_then_withdrawn"}
        # A few days' margin: calendar months are not all DAYS_PER_MONTH long.
        days_ago = (
            self.rng.uniform(term + 3, term + 400) if lapsed else self.rng.uniform(1, term - 3)
        )
        decision = (
            ReviewDecisionKind.APPROVE_WITH_CONDITIONS
            if self.rng.random() < 0.15
            else ReviewDecisionKind.APPROVE
        )
        review_id = self._review(plan.id, decision, days_ago)
        approved_at = self.ago(days_ago)
        expires_at = term_end(approved_at, TERM_MONTHS)
        events: list[dict[str, Any]] = []
        if plan.standing == "suspended":
            at = self.ago(self.rng.uniform(0, days_ago))
            partner["status_reason"] = "No measurable gains reported for two school years."
            events.append(
                {"at": at.isoformat(), "event": "suspended", "reason": partner["status_reason"]}
            )
        elif plan.standing == "expired_then_withdrawn":
            # Withdrawn after its term ran out, so the term ended by the calendar, not early.
            partner["status_reason"] = "The organisation stopped offering the program."
        elif plan.standing == "renewing":
            self._review(plan.id, None, self.rng.uniform(1, 30))
        partner["approved_at"], partner["expires_at"] = approved_at, expires_at
        self.rows.add(
            Designation,
            {
                "id": _uuid(self.rng),
                "partner_id": plan.id,
                "review_id": review_id,
                "approved_at": approved_at,
                "expires_at": expires_at,
                "conditions": (
                    ["Quarterly progress reports to the state."]
                    if decision is ReviewDecisionKind.APPROVE_WITH_CONDITIONS
                    else []
                ),
                "ended_at": None,
                "ended_reason": None,
                "events": events,
                "created_at": approved_at,
            },
        )

    def _review(
        self, partner_id: uuid.UUID, decision: ReviewDecisionKind | None, days_ago: float
    ) -> uuid.UUID:
        review_id = _uuid(self.rng)
        opened = self.ago(days_ago + self.rng.uniform(10, 60))
        self.rows.add(
            Review,
            {
                "id": review_id,
                "partner_id": partner_id,
                "rubric_id": self.rubric.id,
                "opened_by": SYSTEM.user_id,
                "created_at": opened,
            },
        )
        sheet_id = _uuid(self.rng)
        self.rows.add(
            ScoreSheet,
            {
                "id": sheet_id,
                "review_id": review_id,
                # One of a pool of state reviewers; sheets name reviewers, not user rows.
                "reviewer_id": uuid.UUID(int=self.rng.randint(1, 40)),
                "conflict_declared": False,
                "conflict_statement": "No financial, family or employment ties.",
                "created_at": opened,
                "updated_at": opened,
                "version": 1,
            },
        )
        low, high = self.rubric.scale_min, self.rubric.scale_max
        # Denied applicants score low; approved ones mostly at the top of the scale.
        centre = low + 0.5 if decision is ReviewDecisionKind.DENY else high - 0.7
        for criterion in self.rubric.criteria:
            score = round(min(high, max(low, self.rng.gauss(centre, 0.6))))
            self.rows.add(
                Score,
                {"sheet_id": sheet_id, "criterion": criterion["code"], "score": score, "notes": ""},
            )
        if decision is not None:
            self.rows.add(
                ReviewDecision,
                {
                    "review_id": review_id,
                    "decision": decision,
                    "term_months": None if decision is ReviewDecisionKind.DENY else TERM_MONTHS,
                    "conditions": [],
                    "rationale": "Scored against the rubric by the state's review panel.",
                    "decided_by": SYSTEM.user_id,
                    "decided_at": self.ago(days_ago),
                },
            )
        return review_id

    # Evidence -----------------------------------------------------------------------------

    def evidence(self, plans: Sequence[PartnerPlan]) -> None:
        for plan in plans:
            accepted: list[tuple[Study, Tier | None]] = []
            for _ in range(_pick(self.rng, RECORDS_PER_PARTNER)):
                study = self._study(plan)
                status = self._evidence_status(plan)
                final = self._record(plan.id, study, status)
                if status is EvidenceStatus.ACCEPTED:
                    accepted.append((study, final))
            for domain, tier in sorted(partner_tiers(accepted, self.limits).items()):
                self.rows.add(
                    PartnerEvidenceTier,
                    {"partner_id": plan.id, "need_domain": domain, "tier": int(tier)},
                )

    def _evidence_status(self, plan: PartnerPlan) -> EvidenceStatus:
        if plan.standing in {"draft", "submitted"}:
            return _pick(self.rng, {EvidenceStatus.SUBMITTED: 80, EvidenceStatus.ACCEPTED: 20})
        return _pick(
            self.rng,
            {
                EvidenceStatus.ACCEPTED: 85,
                EvidenceStatus.SUBMITTED: 8,
                EvidenceStatus.RETURNED: 4,
                EvidenceStatus.REJECTED: 3,
            },
        )

    def _study(self, plan: PartnerPlan) -> Study:
        rng = self.rng
        design = _pick(rng, DESIGNS)
        causal = design in {Design.RCT, Design.QED, Design.RDD}
        rating = (
            _pick(rng, CAUSAL_RATINGS)
            if causal
            else _pick(rng, {StandardsRating.NOT_REVIEWED: 80, StandardsRating.DOES_NOT_MEET: 20})
        )
        rationale = design is Design.LOGIC_MODEL or rng.random() < 0.6
        # Sample-size quartiles of the WWC export: 113, 430, 1,534 (lognormal, sigma 1.9).
        sample = (
            None if rng.random() < 0.05 else max(12, int(rng.lognormvariate(math.log(430), 1.9)))
        )
        sites = None if rng.random() < 0.05 else (rng.randint(2, 60) if rng.random() < 0.67 else 1)
        domains = sorted(
            {
                d if rng.random() < 0.85 else rng.choice(list(DOMAIN_WEIGHTS))
                for d in _some(rng, plan.domains, 1, 3)
            }
        )
        findings = []
        for _ in range(_pick(rng, FINDINGS_PER_RECORD)):
            effect = rng.gauss(0.2, 0.4)
            significant = design is not Design.LOGIC_MODEL and rng.random() < 0.33
            direction = (
                Direction.NONE
                if abs(effect) < 0.02
                else Direction.FAVORABLE
                if effect > 0
                else Direction.UNFAVORABLE
            )
            if significant and direction is Direction.UNFAVORABLE and rng.random() < 0.85:
                # Significant harm is rare in practice (0.1 % of the WWC export's findings).
                effect, direction = abs(effect), Direction.FAVORABLE
            findings.append(
                Finding(
                    need_domain=rng.choice(domains),
                    outcome=rng.choice(OUTCOMES),
                    direction=direction,
                    significant=significant,
                    effect_size=round(effect, 3),
                    p_value=round(
                        rng.uniform(0.001, 0.049) if significant else rng.uniform(0.05, 0.9), 4
                    ),
                    sample_size=None
                    if sample is None or rng.random() < 0.7
                    else max(10, int(sample * rng.uniform(0.3, 1.0))),
                    subgroup=rng.random() < 0.15,
                )
            )
        return Study(
            design=design,
            standards_rating=rating,
            controls_for_selection_bias=rng.random()
            < (0.7 if design is Design.CORRELATIONAL else 0.4),
            sample_size=sample,
            site_count=sites,
            grade_bands=frozenset(_some(rng, plan.grade_bands, 0, 2)),
            locales=frozenset(_some(rng, plan.locales, 0, 2)),
            student_groups=frozenset(_some(rng, STUDENT_GROUPS, 0, 2)),
            has_logic_model=rationale or rng.random() < 0.5,
            research_basis=rationale,
            ongoing_evaluation=rationale and rng.random() < 0.9,
            findings=tuple(findings),
        )

    def _record(self, partner_id: uuid.UUID, study: Study, status: EvidenceStatus) -> Tier | None:
        """Insert one record with its findings (and decision); the final tier if accepted."""
        rng = self.rng
        classification = classify(study, self.limits)
        computed = classification.tier
        final = computed
        if (
            status is EvidenceStatus.ACCEPTED
            and computed is not None
            and computed < Tier.RATIONALE
            and rng.random() < 0.05
        ):
            # A reviewer who judges the study weaker than the rules do lowers its tier.
            final = Tier(computed + 1)
        evidence_id = _uuid(rng)
        submitted = self.ago(rng.uniform(30, 1_500))
        study_fields = {
            "title": f"{rng.choice(STUDY_KINDS)} of {rng.choice(OUTCOMES)}",
            "citation": f"Registry generator study {evidence_id.hex[:8]} ({submitted.year}).",
            "url": None,
            # The classifier's Study names the record's study columns; its sets become lists.
            **{
                column.name: _column_value(getattr(study, column.name))
                for column in fields(study)
                if column.name != "findings"
            },
        }
        decided = status is not EvidenceStatus.SUBMITTED
        self.rows.add(
            Evidence,
            {
                "id": evidence_id,
                "partner_id": partner_id,
                "status": status,
                **study_fields,
                "classification": classification_json(classification),
                "computed_tier": computed,
                "final_tier": final if status is EvidenceStatus.ACCEPTED else None,
                "submitted_by": None,
                "submitted_at": submitted,
                "source": None,
                "external_id": None,
                "document_sha256": None,
                "document_size": None,
                "document_uploaded_at": None,
                "created_at": submitted,
                "updated_at": submitted + timedelta(days=20) if decided else submitted,
                # The decision bumped the version of a decided record.
                "version": 2 if decided else 1,
            },
        )
        findings = []
        for position, (finding, result) in enumerate(
            zip(study.findings, classification.findings, strict=True)
        ):
            # The classifier's Finding has exactly the columns a finding row stores.
            row = dict(vars(finding))
            findings.append(row)
            self.rows.add(
                EvidenceFinding,
                {
                    "id": _uuid(rng),
                    "evidence_id": evidence_id,
                    "position": position,
                    **row,
                    "external_id": None,
                    "tier": result.tier,
                    "reasons": reasons_json(result.reasons),
                },
            )
        if decided:
            kind = {
                EvidenceStatus.ACCEPTED: EvidenceDecisionKind.ACCEPT,
                EvidenceStatus.RETURNED: EvidenceDecisionKind.RETURN,
                EvidenceStatus.REJECTED: EvidenceDecisionKind.REJECT,
            }[status]
            self.rows.add(
                EvidenceDecision,
                {
                    "id": _uuid(rng),
                    "evidence_id": evidence_id,
                    "evidence_version": 1,
                    "decision": kind,
                    "computed_tier": computed,
                    "final_tier": final if kind is EvidenceDecisionKind.ACCEPT else None,
                    "rationale": ""
                    if final == computed and kind is EvidenceDecisionKind.ACCEPT
                    else "Reviewed by the state's evidence panel.",
                    "feedback": "",
                    "study": {**study_fields, "findings": findings},
                    "decided_by": SYSTEM.user_id,
                    "decided_at": submitted + timedelta(days=20),
                },
            )
        return final

    # Engagements --------------------------------------------------------------------------

    def engagements(self, plans: Sequence[PartnerPlan]) -> None:
        today = self.now.date()
        for plan in plans:
            if plan.standing not in DESIGNATED:
                continue
            districts = [d for region in plan.regions for d in self.districts_by_region[region]]
            if not districts:
                continue
            in_term = plan.standing in {"active", "renewing"}
            # A tenth of partners in term are fully booked; the rest use part of their capacity.
            if not in_term:
                active = 0
            elif self.rng.random() < 0.1:
                active = plan.capacity
            else:
                active = self.rng.randint(0, plan.capacity - 1)
            for number in range(active + self.rng.randint(0, 3)):
                status = EngagementStatus.ACTIVE if number < active else EngagementStatus.COMPLETED
                self._engagement(plan, self.rng.choice(districts), status, today)

    def _engagement(
        self, plan: PartnerPlan, district_id: uuid.UUID, status: EngagementStatus, today: date
    ) -> None:
        start = today - timedelta(days=self.rng.randint(30, 900))
        end = (
            None
            if status is EngagementStatus.ACTIVE
            else start + timedelta(days=self.rng.randint(180, 720))
        )
        profiles = self.profiles_by_district.get(district_id, [])
        engagement_id = _uuid(self.rng)
        self.rows.add(
            Engagement,
            {
                "id": engagement_id,
                "partner_id": plan.id,
                "district_id": district_id,
                "needs_id": self.rng.choice(profiles)
                if profiles and self.rng.random() < 0.7
                else None,
                "need_domains": sorted(_some(self.rng, plan.domains, 1, 2)),
                "start_date": start,
                "end_date": end,
                "status": status,
                **self.stamps((today - start).days),
            },
        )
        self._check_ins(plan, engagement_id, start, min(end or today, today))

    def _check_ins(
        self, plan: PartnerPlan, engagement_id: uuid.UUID, start: date, last: date
    ) -> None:
        """A check-in a quarter, rated around the partner's own quality of support: partners
        differ more than one partner's engagements do."""
        quality = self.quality.setdefault(plan.id, self.rng.betavariate(4, 2))
        held_on = start + timedelta(days=91)
        while held_on <= last:
            progress = PROGRESS_ORDER[_level(self.rng, quality, len(PROGRESS_ORDER) - 1)]
            ratings = {
                name: RATING_MIN + _level(self.rng, quality, RATING_MAX - RATING_MIN)
                for name in QUALITIES
            }
            self.rows.add(
                CheckIn,
                {
                    "id": _uuid(self.rng),
                    "engagement_id": engagement_id,
                    "partner_id": plan.id,
                    "held_on": held_on,
                    "progress": progress,
                    "ratings": ratings,
                    "score": check_in_score(progress, ratings),
                    "notes": "",
                    "recorded_by": None,
                    "created_at": datetime.combine(held_on, time(16), UTC),
                },
            )
            held_on += timedelta(days=91)


def _level(rng: random.Random, quality: float, top: int) -> int:
    """0..top, around ``quality`` (0 to 1) with some noise."""
    return min(top, max(0, round(quality * top + rng.gauss(0, 0.6))))


# The order that satisfies every foreign key.
INSERT_ORDER: tuple[type[Base], ...] = (
    District,
    NeedsProfile,
    ProfileNeed,
    Partner,
    PartnerFacet,
    Review,
    ScoreSheet,
    Score,
    ReviewDecision,
    Designation,
    Evidence,
    EvidenceFinding,
    EvidenceDecision,
    PartnerEvidenceTier,
    Engagement,
    CheckIn,
)


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _column_value(value: Any) -> Any:
    return sorted(value) if isinstance(value, frozenset) else value


def _copy_value(value: Any) -> Any:
    """A value as COPY's text format wants it, done here because COPY bypasses column types."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


async def _copy(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY: several times faster than multi-row INSERTs for wide rows."""
    columns = list(rows[0])
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model.__tablename__), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    connection = await (await session.connection()).get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = connection.driver_connection  # type: ignore[assignment]
    async with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            await copy.write_row([_copy_value(row[column]) for column in columns])


async def _insert(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if (await session.connection()).dialect.name == "postgresql":
        await _copy(session, model, rows)
        return
    for batch in _batches(rows):
        await session.execute(insert(model), batch)


async def present(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == MARKER_ACTION).limit(1)
    )
    return found is not None


def scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


@dataclass(frozen=True)
class Generated:
    counts: dict[str, int]
    fixtures: dict[str, Any]


async def generate(
    session: AsyncSession, settings: Settings, *, scale: float, seed: int
) -> Generated | None:
    """Build the national data set in ``session``'s transaction; None if it is already there."""
    if await present(session):
        return None
    known = set(await session.scalars(select(NeedDomain.code)))
    if missing := sorted(set(DOMAIN_WEIGHTS) - known):
        raise ValueError(f"reference data missing (run `registry migrate`): {', '.join(missing)}")
    rubric = await session.scalar(select(Rubric).order_by(Rubric.created_at).limit(1))
    if rubric is None:
        raise ValueError("no rubric (run `registry migrate`)")
    generator = Generator(
        rng=random.Random(seed), now=utcnow(), limits=thresholds(settings), rubric=rubric
    )
    generator.districts(scaled(FULL_SCALE["districts"], scale))
    generator.needs_profiles(scaled(FULL_SCALE["needs_profiles"], scale))
    plans = generator.partners(scaled(FULL_SCALE["partners"], scale))
    generator.due_diligence(plans)
    generator.evidence(plans)
    generator.engagements(plans)

    tables = generator.rows.tables
    if (await session.connection()).dialect.name == "postgresql":
        # One mark per partner at the end, not one per row from the triggers (migrations 0006
        # and 0007), and the pairs filled in one statement.
        await session.execute(text("SET LOCAL registry.bulk_load = 'on'"))
    for model in INSERT_ORDER:
        await _insert(session, model, tables[model])
    await fill_pairs(session)
    await mark_every_partner_changed(session)
    counts = {model.__tablename__: len(tables[model]) for model in INSERT_ORDER}
    fixtures = await _bench_fixtures(session, settings, generator, plans)
    await record(
        session,
        SYSTEM,
        MARKER_ACTION,
        "dataset",
        None,
        {"scale": scale, "seed": seed, "counts": counts},
    )
    return Generated(counts=counts, fixtures=fixtures)


async def _bench_fixtures(
    session: AsyncSession, settings: Settings, generator: Generator, plans: Sequence[PartnerPlan]
) -> dict[str, Any]:
    """Keys for a bench admin and a district user, and the ids and filters a load test uses."""
    rng = random.Random(0)
    # The district with the most needs profiles, so that match requests can vary.
    district_id = max(
        generator.profiles_by_district,
        key=lambda key: (len(generator.profiles_by_district[key]), str(key)),
    )
    keys = {}
    for email, role, bound in (
        (BENCH_ADMIN_EMAIL, Role.STATE_ADMIN, None),
        (BENCH_DISTRICT_EMAIL, Role.DISTRICT, district_id),
    ):
        user = await auth_service.create_user(
            session, SYSTEM, UserCreate(email=email, role=role, district_id=bound)
        )
        _key, secret, _user = await auth_service.create_api_key(
            session, settings, SYSTEM, ApiKeyCreate(name="bench", user_id=user.id)
        )
        keys[role.value] = secret
    visible = [plan.id for plan in plans if plan.standing in DESIGNATED]
    combos: dict[tuple[str, str], int] = defaultdict(int)
    for plan in plans:
        if plan.standing in DESIGNATED:
            for region in plan.regions:
                for domain in plan.domains:
                    combos[region, domain] += 1
    # Filters that fill a page of 50 where the data allows it, the fullest first.
    filters = sorted(combos, key=lambda combo: (-combos[combo], combo))[:64]
    return {
        "admin_key": keys[Role.STATE_ADMIN.value],
        "district_key": keys[Role.DISTRICT.value],
        "district_id": str(district_id),
        "district_region": generator.region_of[district_id],
        "needs_ids": [str(pid) for pid in generator.profiles_by_district[district_id]],
        "partner_ids": [str(pid) for pid in rng.sample(visible, min(1_000, len(visible)))],
        "list_filters": [{"region": region, "need_domain": domain} for region, domain in filters],
    }
