"""Stored matches: the inputs, the weights and the response as it was answered.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('matches',
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('needs_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_matches_district_id_districts')),
    sa.ForeignKeyConstraint(['needs_id'], ['needs_profiles.id'], name=op.f('fk_matches_needs_id_needs_profiles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matches'))
    )
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.create_index('ix_matches_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_matches_district', ['district_id', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_index('ix_matches_district')
        batch_op.drop_index('ix_matches_created')

    op.drop_table('matches')
