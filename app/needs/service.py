"""The rules for describing a district's needs. Flushes; never commits."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import diff, record
from app.auth.principal import Principal
from app.core.base import utcnow
from app.core.errors import InvalidInput
from app.districts.models import District
from app.needs import repository
from app.needs.models import NeedsProfile, ProfileNeed
from app.needs.schemas import NeedIn, NeedsProfileCreate, NeedsProfileRead, NeedsProfileUpdate


async def check_need_domains(session: AsyncSession, codes: list[str], loc: list[str | int]) -> None:
    unknown = await repository.unknown_need_domains(session, codes)
    if unknown:
        raise InvalidInput(
            loc,
            f"Unknown need domain(s): {', '.join(unknown)}. See GET /v1/need-domains.",
            "need_domain_unknown",
        )


def _need_rows(needs: list[NeedIn]) -> list[ProfileNeed]:
    return [
        ProfileNeed(need_domain=need.need_domain, priority=need.priority, position=position)
        for position, need in enumerate(needs)
    ]


def _weighted(needs: Sequence[NeedIn | ProfileNeed]) -> list[tuple[str, int]]:
    return [(need.need_domain, need.priority) for need in needs]


def _snapshot(profile: NeedsProfile) -> dict[str, Any]:
    return NeedsProfileRead.model_validate(profile).model_dump(
        mode="json", exclude={"version", "created_at", "updated_at"}
    )


async def create(
    session: AsyncSession, actor: Principal, district: District, data: NeedsProfileCreate
) -> NeedsProfile:
    await check_need_domains(session, [need.need_domain for need in data.needs], ["body", "needs"])
    profile = NeedsProfile(
        district_id=district.id,
        needs=_need_rows(data.needs),
        **data.model_dump(mode="json", exclude={"needs"}),
    )
    session.add(profile)
    await session.flush()
    await record(
        session, actor, "needs_profile.created", "needs_profile", profile.id, _snapshot(profile)
    )
    return profile


async def update(
    session: AsyncSession, actor: Principal, profile: NeedsProfile, data: NeedsProfileUpdate
) -> NeedsProfile:
    before = _snapshot(profile)
    changes = data.sent(mode="json", exclude={"needs"})
    if data.needs is not None and _weighted(data.needs) != _weighted(profile.needs):
        await check_need_domains(
            session, [need.need_domain for need in data.needs], ["body", "needs"]
        )
        # Replaced wholesale: the old rows go first so a kept domain can reuse its key.
        profile.needs = []
        await session.flush()
        profile.needs = _need_rows(data.needs)
    for field, value in changes.items():
        setattr(profile, field, value)
    changed = diff(before, _snapshot(profile))
    if not changed:
        return profile  # nothing to write: the version stays
    # Touch the row even when only the needs changed, so the version moves.
    profile.updated_at = utcnow()
    await session.flush()
    await record(session, actor, "needs_profile.updated", "needs_profile", profile.id, changed)
    return profile
