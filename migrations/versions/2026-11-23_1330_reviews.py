"""Due diligence: rubrics, reviews, score sheets, decisions and designation history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rubrics',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('scale_min', sa.Integer(), nullable=False),
    sa.Column('scale_max', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('scale_min >= 0 AND scale_max > scale_min', name=op.f('ck_rubrics_scale_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rubrics')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_rubrics_name_version'))
    )
    op.create_table('reviews',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('rubric_id', sa.Uuid(), nullable=False),
    sa.Column('opened_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_reviews_partner_id_partners')),
    sa.ForeignKeyConstraint(['rubric_id'], ['rubrics.id'], name=op.f('fk_reviews_rubric_id_rubrics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_partner_id'), ['partner_id'], unique=False)

    op.create_table('designations',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_reason', sa.Text(), nullable=True),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_designations_partner_id_partners')),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_designations_review_id_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_designations')),
    sa.UniqueConstraint('review_id', name=op.f('uq_designations_review_id'))
    )
    with op.batch_alter_table('designations', schema=None) as batch_op:
        batch_op.create_index('ix_designations_partner', ['partner_id', 'approved_at'], unique=False)

    op.create_table('review_decisions',
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('decision', sa.Enum('approve', 'approve_with_conditions', 'deny', 'defer', name='decision', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=True),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_decisions_review_id_reviews')),
    sa.PrimaryKeyConstraint('review_id', name=op.f('pk_review_decisions'))
    )
    op.create_table('score_sheets',
    sa.Column('review_id', sa.Uuid(), nullable=False),
    sa.Column('reviewer_id', sa.Uuid(), nullable=False),
    sa.Column('conflict_declared', sa.Boolean(), nullable=False),
    sa.Column('conflict_statement', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_score_sheets_review_id_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_sheets')),
    sa.UniqueConstraint('review_id', 'reviewer_id', name=op.f('uq_score_sheets_review_id_reviewer_id'))
    )
    op.create_table('scores',
    sa.Column('sheet_id', sa.Uuid(), nullable=False),
    sa.Column('criterion', sa.String(length=63), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['sheet_id'], ['score_sheets.id'], name=op.f('fk_scores_sheet_id_score_sheets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sheet_id', 'criterion', name=op.f('pk_scores'))
    )


def downgrade() -> None:
    op.drop_table('scores')
    op.drop_table('score_sheets')
    op.drop_table('review_decisions')
    with op.batch_alter_table('designations', schema=None) as batch_op:
        batch_op.drop_index('ix_designations_partner')

    op.drop_table('designations')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviews_partner_id'))

    op.drop_table('reviews')
    op.drop_table('rubrics')
