"""Every table, imported once so that metadata is complete for Alembic and the tests."""

from app.audit.models import AuditEvent
from app.auth.models import ApiKey, SignInFailure, User
from app.core.base import Base
from app.districts.models import District
from app.idempotency.models import IdempotentRequest
from app.need_domains.models import NeedDomain
from app.partners.models import Partner, PartnerEvidenceTier, PartnerFacet

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "District",
    "IdempotentRequest",
    "NeedDomain",
    "Partner",
    "PartnerEvidenceTier",
    "PartnerFacet",
    "SignInFailure",
    "User",
]
