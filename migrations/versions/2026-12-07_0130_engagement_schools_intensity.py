"""Engagements record which schools they serve and their intensity (days and people).

Existing engagements served their whole district (`schools` empty) at an intensity no one
recorded (`intensity` null).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not in batch mode: on SQLite a batch would recreate `engagements` and drop its triggers.
    op.add_column(
        'engagements',
        sa.Column('schools', sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
    )
    op.add_column('engagements', sa.Column('intensity', sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later), keeping the table and its triggers.
    op.drop_column('engagements', 'intensity')
    op.drop_column('engagements', 'schools')
