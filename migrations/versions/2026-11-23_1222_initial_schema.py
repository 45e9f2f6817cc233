"""Initial schema: taxonomy, partners, districts, identity, audit trail, idempotency.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 12:22:26.647636+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=63), nullable=False),
    sa.Column('entity_type', sa.String(length=63), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_events_actor', ['actor_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_at', ['at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_entity', ['entity_id', 'at'], unique=False)

    op.create_table('districts',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('nces_id', sa.String(length=7), nullable=False),
    sa.Column('region', sa.String(length=63), nullable=False),
    sa.Column('locale', sa.Enum('city', 'suburb', 'town', 'rural', name='locale', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('enrollment', sa.Integer(), nullable=False),
    sa.Column('accountability_status', sa.Enum('none', 'tsi', 'atsi', 'csi', name='accountability_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts')),
    sa.UniqueConstraint('nces_id', name=op.f('uq_districts_nces_id'))
    )
    with op.batch_alter_table('districts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_districts_region'), ['region'], unique=False)

    op.create_table('idempotent_requests',
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('location', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotent_requests')),
    sa.UniqueConstraint('owner', 'key', name=op.f('uq_idempotent_requests_owner_key'))
    )
    with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotent_requests_created_at'), ['created_at'], unique=False)

    op.create_table('need_domains',
    sa.Column('code', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('parent', sa.String(length=63), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent'], ['need_domains.code'], name=op.f('fk_need_domains_parent_need_domains')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_need_domains'))
    )
    op.create_table('partners',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('cost_min', sa.Integer(), nullable=False),
    sa.Column('cost_max', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'under_review', 'approved', 'denied', 'suspended', 'expired', 'withdrawn', name='partner_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('(approved_at IS NULL) = (expires_at IS NULL)', name=op.f('ck_partners_designation_complete')),
    sa.CheckConstraint('capacity >= 0', name=op.f('ck_partners_capacity_not_negative')),
    sa.CheckConstraint('cost_min >= 0 AND cost_max >= cost_min', name=op.f('ck_partners_cost_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners'))
    )
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partners_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_partners_status'), ['status'], unique=False)

    op.create_table('sign_in_failures',
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_failures_client_at', ['client', 'at'], unique=False)
        batch_op.create_index('ix_sign_in_failures_email_at', ['email', 'at'], unique=False)

    op.create_table('partner_evidence_tiers',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('need_domain', sa.String(length=63), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.CheckConstraint('tier BETWEEN 1 AND 4', name=op.f('ck_partner_evidence_tiers_tier_range')),
    sa.ForeignKeyConstraint(['need_domain'], ['need_domains.code'], name=op.f('fk_partner_evidence_tiers_need_domain_need_domains')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_evidence_tiers_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partner_id', 'need_domain', name=op.f('pk_partner_evidence_tiers'))
    )
    with op.batch_alter_table('partner_evidence_tiers', schema=None) as batch_op:
        batch_op.create_index('ix_partner_evidence_tiers_lookup', ['need_domain', 'tier', 'partner_id'], unique=False)

    op.create_table('partner_facets',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('facet', sa.Enum('need_domain', 'grade_band', 'locale', 'region', 'delivery_mode', name='facet', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('value', sa.String(length=63), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_facets_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partner_id', 'facet', 'value', name=op.f('pk_partner_facets'))
    )
    with op.batch_alter_table('partner_facets', schema=None) as batch_op:
        batch_op.create_index('ix_partner_facets_lookup', ['facet', 'value', 'partner_id'], unique=False)

    op.create_table('users',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('role', sa.Enum('state_admin', 'state_reviewer', 'district', 'partner', name='role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('district_id', sa.Uuid(), nullable=True),
    sa.Column('partner_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(role = 'district') = (district_id IS NOT NULL)", name=op.f('ck_users_district_binding')),
    sa.CheckConstraint("(role = 'partner') = (partner_id IS NOT NULL)", name=op.f('ck_users_partner_binding')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_users_district_id_districts')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_users_partner_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_district_id'), ['district_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_partner_id'), ['partner_id'], unique=False)

    op.create_table('api_keys',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_user_id'), ['user_id'], unique=False)
    _forbid_audit_changes()


def _forbid_audit_changes() -> None:
    """The audit trail is append-only for every database role, the application's included."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE"
            " ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events"
                " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_user_id'))

    op.drop_table('api_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_partner_id'))
        batch_op.drop_index(batch_op.f('ix_users_district_id'))

    op.drop_table('users')
    with op.batch_alter_table('partner_facets', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_facets_lookup')

    op.drop_table('partner_facets')
    with op.batch_alter_table('partner_evidence_tiers', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_evidence_tiers_lookup')

    op.drop_table('partner_evidence_tiers')
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_failures_email_at')
        batch_op.drop_index('ix_sign_in_failures_client_at')

    op.drop_table('sign_in_failures')
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partners_status'))
        batch_op.drop_index(batch_op.f('ix_partners_name'))

    op.drop_table('partners')
    op.drop_table('need_domains')
    with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotent_requests_created_at'))

    op.drop_table('idempotent_requests')
    with op.batch_alter_table('districts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_districts_region'))

    op.drop_table('districts')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_entity')
        batch_op.drop_index('ix_audit_events_at')
        batch_op.drop_index('ix_audit_events_actor')
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
