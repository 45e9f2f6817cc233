"""Partners keep their contacts, each private (state staff and the partner only) or public.

Partners recorded before have none.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not in batch mode: on SQLite a batch would recreate `partners` and drop its triggers.
    op.add_column(
        'partners',
        sa.Column('contacts', sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
    )


def downgrade() -> None:
    # SQLite drops a column in place (3.35 and later), keeping the table and its triggers.
    op.drop_column('partners', 'contacts')
