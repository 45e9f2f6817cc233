"""Small typed factories: payloads, and actors of each role with working credentials."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from app.auth import service as auth_service
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.schemas import ApiKeyCreate, UserCreate
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


def district_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": unique("District"),
        "nces_id": f"{uuid.uuid4().int % 10_000_000:07d}",
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


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client calling from its own address, for tests of per-client limits."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
