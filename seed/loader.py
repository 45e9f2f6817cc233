"""Load reference data (always) and the demo registry (on request), idempotently.

Each record is matched on its natural key (need-domain code, district NCES id, partner name,
user email); what already exists is left exactly as it is.
"""

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth import repository as users
from app.auth import service as auth_service
from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.schemas import UserCreate
from app.core.base import utcnow
from app.districts import repository as districts
from app.districts import service as district_service
from app.districts.schemas import DistrictCreate
from app.need_domains.models import NeedDomain
from app.partners import service as partner_service
from app.partners.lifecycle import PartnerStatus
from app.partners.models import Partner
from app.partners.schemas import PartnerCreate

SEED_DIR = Path(__file__).resolve().parent
# The actor of changes made by the command line rather than by a person signed in.
SYSTEM = Principal(user_id=uuid.UUID(int=0), role=Role.STATE_ADMIN)
DAYS_PER_MONTH = 30.44


def _read(relative: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((SEED_DIR / relative).read_text())
    return data


async def load_reference(session: AsyncSession) -> int:
    added = 0
    for row in _read("reference/need_domains.json"):
        if await session.get(NeedDomain, row["code"]) is None:
            session.add(NeedDomain(**({"description": "", "parent": None} | row)))
            await session.flush()
            await record(session, SYSTEM, "need_domain.created", "need_domain", None, row)
            added += 1
    return added


async def _load_partner(session: AsyncSession, row: dict[str, Any]) -> bool:
    if await session.scalar(select(Partner.id).where(Partner.name == row["name"])):
        return False
    demo = {key: row.pop(key) for key in list(row) if key.startswith("demo_")}
    partner = await partner_service.create(session, SYSTEM, PartnerCreate.model_validate(row))
    status = PartnerStatus(demo["demo_status"])
    if "demo_months_left" in demo:
        # Demo designations are placed on the calendar directly; real ones come from reviews.
        expires_at = utcnow() + timedelta(days=demo["demo_months_left"] * DAYS_PER_MONTH)
        partner.approved_at = expires_at - timedelta(days=36 * DAYS_PER_MONTH)
        partner.expires_at = expires_at
    partner.status = status
    partner.status_reason = demo.get("demo_reason")
    await session.flush()
    await record(
        session,
        SYSTEM,
        "partner.seeded",
        "partner",
        partner.id,
        {"status": status, "expires_at": partner.expires_at},
    )
    return True


async def load_demo(session: AsyncSession, *, with_users: bool) -> dict[str, int]:
    counts = {"districts": 0, "partners": 0, "users": 0}
    for row in _read("demo/districts.json"):
        if await districts.by_nces_id(session, row["nces_id"]) is None:
            await district_service.create(session, SYSTEM, DistrictCreate.model_validate(row))
            counts["districts"] += 1
    for row in _read("demo/partners.json"):
        counts["partners"] += await _load_partner(session, row)
    if with_users:
        for row in _read("demo/users.json"):
            counts["users"] += await _load_user(session, row)
    return counts


async def _load_user(session: AsyncSession, row: dict[str, Any]) -> bool:
    if await users.user_by_email(session, row["email"]) is not None:
        return False
    district = row.pop("district", None)
    partner = row.pop("partner", None)
    if district is not None:
        found = await districts.by_nces_id(session, district)
        row["district_id"] = found.id if found else None
    if partner is not None:
        row["partner_id"] = await session.scalar(select(Partner.id).where(Partner.name == partner))
    await auth_service.create_user(session, SYSTEM, UserCreate.model_validate(row))
    return True


def demo_credentials() -> list[dict[str, Any]]:
    return _read("demo/users.json")
