import uuid
from dataclasses import dataclass

from app.auth.models import Role

STATE_ROLES = frozenset({Role.STATE_ADMIN, Role.STATE_REVIEWER})


@dataclass(frozen=True)
class Principal:
    """Who is calling, as every repository and service needs to know it."""

    user_id: uuid.UUID
    role: Role
    district_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None

    @property
    def is_state_staff(self) -> bool:
        return self.role in STATE_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role is Role.STATE_ADMIN

    def is_staff_or_partner(self, partner_id: uuid.UUID) -> bool:
        """State staff, or a user of that partner: those to whom its status reasons belong."""
        return self.is_state_staff or self.partner_id == partner_id
