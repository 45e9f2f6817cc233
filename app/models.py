"""Every table, imported once so that metadata is complete for Alembic and the tests."""

from app.audit.models import AuditEvent
from app.auth.models import ApiKey, SignInFailure, User
from app.core.base import Base
from app.designations.models import Designation
from app.districts.models import District
from app.engagements.models import CheckIn, Engagement
from app.evidence.models import Evidence, EvidenceDecision, EvidenceFinding, ImportedPartner
from app.idempotency.models import IdempotentRequest
from app.matching.models import Match, PartnerChange, PartnerChangeCounter
from app.need_domains.models import NeedDomain
from app.needs.models import NeedsProfile, ProfileNeed
from app.partners.models import Partner, PartnerEvidenceTier, PartnerFacet
from app.reviews.models import Review, ReviewDecision, Rubric, Score, ScoreSheet

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "CheckIn",
    "Designation",
    "District",
    "Engagement",
    "Evidence",
    "EvidenceDecision",
    "EvidenceFinding",
    "IdempotentRequest",
    "ImportedPartner",
    "Match",
    "NeedDomain",
    "NeedsProfile",
    "Partner",
    "PartnerChange",
    "PartnerChangeCounter",
    "PartnerEvidenceTier",
    "PartnerFacet",
    "ProfileNeed",
    "Review",
    "ReviewDecision",
    "Rubric",
    "Score",
    "ScoreSheet",
    "SignInFailure",
    "User",
]
