"""District needs profiles (with their weighted need domains) and engagements.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('needs_profiles',
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('school_name', sa.String(length=200), nullable=True),
    sa.Column('grade_bands', sa.JSON(), nullable=False),
    sa.Column('student_groups', sa.JSON(), nullable=False),
    sa.Column('funding_source', sa.Enum('title_i_1003', 'other', name='funding_source', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('min_evidence_tier', sa.Integer(), nullable=False),
    sa.Column('budget_per_school_year', sa.Integer(), nullable=False),
    sa.Column('delivery_modes', sa.JSON(), nullable=False),
    sa.Column('readiness', sa.JSON(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('budget_per_school_year >= 0', name=op.f('ck_needs_profiles_budget_not_negative')),
    sa.CheckConstraint('min_evidence_tier BETWEEN 1 AND 4', name=op.f('ck_needs_profiles_min_evidence_tier_range')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_needs_profiles_district_id_districts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_needs_profiles'))
    )
    with op.batch_alter_table('needs_profiles', schema=None) as batch_op:
        batch_op.create_index('ix_needs_profiles_district', ['district_id', 'title', 'id'], unique=False)

    op.create_table('engagements',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=False),
    sa.Column('needs_id', sa.Uuid(), nullable=True),
    sa.Column('need_domains', sa.JSON(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('planned', 'active', 'completed', 'terminated', name='engagement_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('end_date IS NULL OR end_date >= start_date', name=op.f('ck_engagements_dates_ordered')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_engagements_district_id_districts')),
    sa.ForeignKeyConstraint(['needs_id'], ['needs_profiles.id'], name=op.f('fk_engagements_needs_id_needs_profiles')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_engagements_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_engagements'))
    )
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.create_index('ix_engagements_district', ['district_id', 'id'], unique=False)
        batch_op.create_index('ix_engagements_partner_status', ['partner_id', 'status'], unique=False)

    op.create_table('needs_profile_needs',
    sa.Column('profile_id', sa.Uuid(), nullable=False),
    sa.Column('need_domain', sa.String(length=63), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.CheckConstraint('priority BETWEEN 1 AND 5', name=op.f('ck_needs_profile_needs_priority_range')),
    sa.ForeignKeyConstraint(['need_domain'], ['need_domains.code'], name=op.f('fk_needs_profile_needs_need_domain_need_domains')),
    sa.ForeignKeyConstraint(['profile_id'], ['needs_profiles.id'], name=op.f('fk_needs_profile_needs_profile_id_needs_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('profile_id', 'need_domain', name=op.f('pk_needs_profile_needs'))
    )


def downgrade() -> None:
    op.drop_table('needs_profile_needs')
    with op.batch_alter_table('engagements', schema=None) as batch_op:
        batch_op.drop_index('ix_engagements_partner_status')
        batch_op.drop_index('ix_engagements_district')

    op.drop_table('engagements')
    with op.batch_alter_table('needs_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_needs_profiles_district')

    op.drop_table('needs_profiles')
