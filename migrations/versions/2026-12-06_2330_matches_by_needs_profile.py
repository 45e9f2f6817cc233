"""Stored matches listed by needs profile (`GET /v1/matches?needs_id=`).

A district that keeps a profile per school asks for the matches of one of them; matches are
never deleted, so without an index that list would read every stored match of the registry
(for state staff) or of the district.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 23:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_matches_needs", "matches", ["needs_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_matches_needs", table_name="matches")
