"""Evidence: studies, their findings, and the review decisions on them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evidence',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'accepted', 'returned', 'rejected', name='evidence_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('citation', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('design', sa.Enum('rct', 'qed', 'rdd', 'correlational', 'logic_model', 'other', name='evidence_design', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('standards_rating', sa.Enum('meets_without_reservations', 'meets_with_reservations', 'does_not_meet', 'not_reviewed', name='standards_rating', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('controls_for_selection_bias', sa.Boolean(), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=True),
    sa.Column('site_count', sa.Integer(), nullable=True),
    sa.Column('grade_bands', sa.JSON(), nullable=False),
    sa.Column('locales', sa.JSON(), nullable=False),
    sa.Column('student_groups', sa.JSON(), nullable=False),
    sa.Column('has_logic_model', sa.Boolean(), nullable=False),
    sa.Column('research_basis', sa.Boolean(), nullable=False),
    sa.Column('ongoing_evaluation', sa.Boolean(), nullable=False),
    sa.Column('classification', sa.JSON(), nullable=False),
    sa.Column('computed_tier', sa.Integer(), nullable=True),
    sa.Column('final_tier', sa.Integer(), nullable=True),
    sa.Column('submitted_by', sa.Uuid(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('document_sha256', sa.String(length=64), nullable=True),
    sa.Column('document_size', sa.Integer(), nullable=True),
    sa.Column('document_uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('computed_tier BETWEEN 1 AND 4', name=op.f('ck_evidence_computed_tier_range')),
    sa.CheckConstraint('final_tier BETWEEN 1 AND 4', name=op.f('ck_evidence_final_tier_range')),
    sa.CheckConstraint('sample_size >= 0', name=op.f('ck_evidence_sample_size_not_negative')),
    sa.CheckConstraint('site_count >= 0', name=op.f('ck_evidence_site_count_not_negative')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_evidence_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_evidence_source_external_id'))
    )
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_partner', ['partner_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_status'), ['status'], unique=False)

    op.create_table('evidence_decisions',
    sa.Column('evidence_id', sa.Uuid(), nullable=False),
    sa.Column('evidence_version', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Enum('accept', 'return', 'reject', name='evidence_decision', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('computed_tier', sa.Integer(), nullable=True),
    sa.Column('final_tier', sa.Integer(), nullable=True),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('study', sa.JSON(), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('computed_tier BETWEEN 1 AND 4', name=op.f('ck_evidence_decisions_computed_tier_range')),
    sa.CheckConstraint('final_tier BETWEEN 1 AND 4', name=op.f('ck_evidence_decisions_final_tier_range')),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_evidence_decisions_evidence_id_evidence'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_decisions'))
    )
    with op.batch_alter_table('evidence_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_decisions_evidence_id'), ['evidence_id'], unique=False)

    op.create_table('evidence_findings',
    sa.Column('evidence_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('need_domain', sa.String(length=63), nullable=False),
    sa.Column('outcome', sa.String(length=500), nullable=False),
    sa.Column('direction', sa.Enum('favorable', 'unfavorable', 'none', name='finding_direction', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('significant', sa.Boolean(), nullable=False),
    sa.Column('effect_size', sa.Float(), nullable=True),
    sa.Column('p_value', sa.Float(), nullable=True),
    sa.Column('sample_size', sa.Integer(), nullable=True),
    sa.Column('subgroup', sa.Boolean(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('tier', sa.Integer(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('tier BETWEEN 1 AND 4', name=op.f('ck_evidence_findings_tier_range')),
    sa.ForeignKeyConstraint(['evidence_id'], ['evidence.id'], name=op.f('fk_evidence_findings_evidence_id_evidence'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['need_domain'], ['need_domains.code'], name=op.f('fk_evidence_findings_need_domain_need_domains')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_findings')),
    sa.UniqueConstraint('evidence_id', 'position', name=op.f('uq_evidence_findings_evidence_id_position'))
    )
    with op.batch_alter_table('evidence_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_findings_need_domain'), ['need_domain'], unique=False)

    op.create_table('imported_partners',
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_imported_partners_partner_id_partners')),
    sa.PrimaryKeyConstraint('source', 'external_id', name=op.f('pk_imported_partners'))
    )
    with op.batch_alter_table('imported_partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_partners_partner_id'), ['partner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('imported_partners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_partners_partner_id'))

    op.drop_table('imported_partners')
    with op.batch_alter_table('evidence_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_findings_need_domain'))

    op.drop_table('evidence_findings')
    with op.batch_alter_table('evidence_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_decisions_evidence_id'))

    op.drop_table('evidence_decisions')
    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_status'))
        batch_op.drop_index('ix_evidence_partner')

    op.drop_table('evidence')