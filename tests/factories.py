"""Small typed factories: payloads, and actors of each role with working credentials."""

import ipaddress
import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.schemas import ApiKeyCreate, UserCreate
from app.engagements.track_record import QUALITIES
from seed.loader import SYSTEM


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def partner_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": unique("Partner"),
        "description": "Coaching for turnaround schools.",
        "website": "https://partner.example.org",
        "need_domains": ["staffing", "instruction"],
        "grade_bands": ["elementary"],
        "locales": ["city"],
        "regions": ["north"],
        "delivery_modes": ["onsite"],
        "capacity": 5,
        "cost_per_school_year": {"min": 10000, "max": 50000},
    }
    return payload | overrides


# Random 7-digit ids collide within a run of a few thousand districts; a counter cannot.
_NCES_IDS = itertools.count(5_000_000)


def next_nces_id() -> str:
    return f"{next(_NCES_IDS):07d}"


def district_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": unique("District"),
        "nces_id": next_nces_id(),
        "region": "north",
        "locale": "city",
        "enrollment": 5000,
        "accountability_status": "csi",
    }
    return payload | overrides


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    role: str
    key: str
    district_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_actor(
    app: FastAPI,
    role: str,
    *,
    district_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    password: str | None = None,
) -> Actor:
    """A user of ``role`` created straight through the services, with an API key."""
    database = app.state.database
    async with database.sessions() as session, session.begin():
        user = await auth_service.create_user(
            session,
            SYSTEM,
            UserCreate(
                email=f"{unique(role)}@example.org",
                password=password,
                role=Role(role),
                district_id=district_id,
                partner_id=partner_id,
            ),
        )
        principal = Principal(user_id=user.id, role=user.role)
        _key, secret, _user = await auth_service.create_api_key(
            session, app.state.settings, principal, ApiKeyCreate(name="test")
        )
    return Actor(user.id, role, secret, district_id, partner_id)


async def create_partner(
    client: httpx.AsyncClient, actor: Actor, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/partners", json=partner_payload(**overrides), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def audit_actions(client: httpx.AsyncClient, admin: Actor, entity_id: str) -> list[str]:
    """The actions of the audit trail of one resource, oldest first."""
    response = await client.get(
        "/v1/audit-events", params={"entity_id": entity_id}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    return [event["action"] for event in response.json()["items"]]


async def create_district(
    client: httpx.AsyncClient, actor: Actor, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/districts", json=district_payload(**overrides), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


@dataclass(frozen=True)
class Actors:
    admin: Actor
    reviewer: Actor
    district: Actor
    partner: Actor
    district_record: dict[str, Any]
    partner_record: dict[str, Any]

    @classmethod
    async def create(cls, app: FastAPI, client: httpx.AsyncClient, admin: Actor) -> "Actors":
        district = await create_district(client, admin)
        partner = await create_partner(client, admin)
        return cls(
            admin=admin,
            reviewer=await make_actor(app, "state_reviewer"),
            district=await make_actor(app, "district", district_id=uuid.UUID(district["id"])),
            partner=await make_actor(app, "partner", partner_id=uuid.UUID(partner["id"])),
            district_record=district,
            partner_record=partner,
        )

    def by_role(self) -> dict[str, Actor]:
        return {
            "state_admin": self.admin,
            "state_reviewer": self.reviewer,
            "district": self.district,
            "partner": self.partner,
        }


async def force_partner_state(app: FastAPI, partner_id: str, **fields: Any) -> None:
    """Put a partner where a later workflow (reviews, evidence) would, for tests of reads."""
    from app.partners.models import Partner, PartnerEvidenceTier

    tiers: dict[str, int] = fields.pop("evidence_tiers", {})
    async with app.state.database.sessions() as session, session.begin():
        partner = await session.get(Partner, uuid.UUID(partner_id))
        assert partner is not None
        for name, value in fields.items():
            setattr(partner, name, value)
        for domain, tier in tiers.items():
            session.add(PartnerEvidenceTier(partner_id=partner.id, need_domain=domain, tier=tier))


def fresh_address() -> str:
    """A client address of this test's own. Failed sign-ins are counted per address in the
    database that all tests share: an address drawn from a few hundred IPv4 ones met another
    test's now and then, and inherited its failures."""
    return str(ipaddress.IPv6Address("2001:db8::") + uuid.uuid4().int % 2**64)


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client calling from its own address, for tests of per-client limits."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


DEFAULT_RUBRIC = json.loads(
    (Path(__file__).resolve().parents[1] / "seed" / "reference" / "rubric_default.json").read_text()
)
DEFAULT_CRITERIA = [criterion["code"] for criterion in DEFAULT_RUBRIC["criteria"]]


def rubric_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": unique("Rubric"),
        "criteria": [
            {"code": "evidence", "name": "Evidence", "weight": 3, "required": True},
            {"code": "fit", "name": "Fit", "description": "Context fit.", "weight": 1},
        ],
        "scale": {"min": 0, "max": 4},
    }
    return payload | overrides


def scores_payload(
    score: int = 3, criteria: list[str] | None = None, *, declared: bool = False
) -> dict[str, Any]:
    return {
        "conflict_of_interest": {
            "declared": declared,
            "statement": "A board seat there." if declared else "No ties to this organisation.",
        },
        "scores": [
            {"criterion": code, "score": score, "notes": f"Notes on {code}."}
            for code in (DEFAULT_CRITERIA if criteria is None else criteria)
        ],
    }


async def move_partner(
    client: httpx.AsyncClient, actor: Actor, partner_id: str, *statuses: str
) -> None:
    for status in statuses:
        response = await client.post(
            f"/v1/partners/{partner_id}/status",
            json={"status": status, "reason": f"Moved to {status}."},
            headers=actor.headers,
        )
        assert response.status_code == 200, response.text


async def review_in_progress(
    client: httpx.AsyncClient,
    actors: Actors,
    partner_id: str,
    *,
    open_review: bool = True,
    scores: tuple[int, int] = (3, 3),
) -> str:
    """Put the partner under review and, if asked, open a review that admin and reviewer scored
    (``scores``: each one's score on every criterion).

    Returns the review's id, or "" when no review was opened.
    """
    await move_partner(client, actors.admin, partner_id, "submitted", "under_review")
    if not open_review:
        return ""
    response = await client.post(
        f"/v1/partners/{partner_id}/reviews", json={}, headers=actors.admin.headers
    )
    assert response.status_code == 201, response.text
    review_id: str = response.json()["id"]
    for actor, score in zip((actors.admin, actors.reviewer), scores, strict=True):
        scored = await client.put(
            f"/v1/reviews/{review_id}/scores", json=scores_payload(score), headers=actor.headers
        )
        assert scored.status_code == 201, scored.text
    return review_id


def evidence_payload(**overrides: Any) -> dict[str, Any]:
    """A study that classifies as tier 1 in staffing (a large multi-site RCT, sig+)."""
    payload: dict[str, Any] = {
        "title": unique("Study"),
        "citation": "Doe, J. (2024). A study. Journal of Turnaround, 1(1), 1-20.",
        "url": "https://studies.example.org/1",
        "design": "rct",
        "standards_rating": "meets_without_reservations",
        "controls_for_selection_bias": True,
        "sample_size": 1200,
        "site_count": 12,
        "grade_bands": ["elementary"],
        "locales": ["city"],
        "student_groups": ["english_learners"],
        "has_logic_model": True,
        "research_basis": True,
        "ongoing_evaluation": True,
        "findings": [
            {
                "need_domain": "staffing",
                "outcome": "Teacher retention",
                "direction": "favorable",
                "significant": True,
                "effect_size": 0.21,
                "p_value": 0.01,
            }
        ],
    }
    return payload | overrides


async def submit_evidence(
    client: httpx.AsyncClient, actor: Actor, partner_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/partners/{partner_id}/evidence",
        json=evidence_payload(**overrides),
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def needs_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": unique("Needs"),
        "needs": [
            {"need_domain": "staffing", "priority": 5},
            {"need_domain": "literacy", "priority": 2},
        ],
        "grade_bands": ["elementary"],
        "student_groups": ["english_learners"],
        "funding_source": "title_i_1003",
        "min_evidence_tier": 3,
        "budget_per_school_year": 60000,
        "delivery_modes": ["onsite"],
    }
    return payload | overrides


async def create_needs(
    client: httpx.AsyncClient, actor: Actor, district_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/districts/{district_id}/needs", json=needs_payload(**overrides), headers=actor.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def designate(app: FastAPI, partner_id: str, **fields: Any) -> None:
    """Approve a partner for a term that runs today, as a review decision would."""
    from datetime import timedelta

    from app.core.base import utcnow
    from app.partners.lifecycle import PartnerStatus

    now = utcnow()
    term = {
        "status": PartnerStatus.APPROVED,
        "approved_at": now - timedelta(days=30),
        "expires_at": now + timedelta(days=365),
    }
    await force_partner_state(app, partner_id, **(term | fields))


def engagement_payload(partner_id: str, district_id: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "partner_id": partner_id,
        "district_id": district_id,
        "need_domains": ["staffing"],
        "start_date": "2026-09-01",
        "status": "active",
    }
    return payload | overrides


def check_in_payload(**overrides: Any) -> dict[str, Any]:
    """A check-in held today: on track, the support rated 3 or 4 on each quality."""
    payload: dict[str, Any] = {
        "held_on": date.today().isoformat(),
        "progress": "on_track",
        "ratings": dict.fromkeys(QUALITIES, 3) | {"responsive": 4},
        "notes": "Coaching cycles held as planned.",
    }
    return payload | overrides
