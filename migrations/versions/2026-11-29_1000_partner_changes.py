"""Partner changes: which partners changed, in commit order, for the in-memory match index.

Every write to a table that a match reads marks the partner it belongs to in `partner_changes`
with the next value of a counter. Triggers do the marking, so that no write path, present or
future, can forget it. On PostgreSQL they are deferred constraint triggers: the counter row is
taken at commit, as the transaction's last lock (no lock-order cycle with the partner locks
taken earlier), and held until the commit ends, so versions are handed out in commit order and
a reader that sees version v has every change up to v. SQLite serialises writers anyway.

A bulk load may set `registry.bulk_load` to `on` for its transaction and mark every partner
once at the end (see `seed/national.py`).

On SQLite, a later batch migration that recreates a watched table drops its triggers with it:
such a migration must create them again (`_sqlite_triggers`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The partner a row belongs to, in terms of the row, `{row}`.
WATCHED = {
    "partners": "{row}.id",
    "partner_facets": "{row}.partner_id",
    "partner_evidence_tiers": "{row}.partner_id",
    "evidence": "{row}.partner_id",
    "evidence_findings": "(SELECT partner_id FROM evidence WHERE id = {row}.evidence_id)",
    "engagements": "{row}.partner_id",
    "reviews": "{row}.partner_id",
    "review_decisions": "(SELECT partner_id FROM reviews WHERE id = {row}.review_id)",
    "score_sheets": "(SELECT partner_id FROM reviews WHERE id = {row}.review_id)",
    "scores": (
        "(SELECT reviews.partner_id FROM score_sheets JOIN reviews"
        " ON reviews.id = score_sheets.review_id WHERE score_sheets.id = {row}.sheet_id)"
    ),
}


def upgrade() -> None:
    op.create_table('partner_change_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_partner_change_counter_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_change_counter'))
    )
    op.create_table('partner_changes',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_partner_changes'))
    )
    with op.batch_alter_table('partner_changes', schema=None) as batch_op:
        batch_op.create_index('ix_partner_changes_version', ['version'], unique=False)
    op.execute("INSERT INTO partner_change_counter (id, version) VALUES (1, 0)")
    if op.get_context().dialect.name == "postgresql":
        for table, partner in WATCHED.items():
            _postgresql_trigger(table, partner)
    else:
        for table, partner in WATCHED.items():
            _sqlite_triggers(table, partner)


def _postgresql_trigger(table: str, partner: str) -> None:
    op.execute(
        f"""
        CREATE FUNCTION mark_partner_changed_{table}() RETURNS trigger AS $$
        DECLARE
            r record;
            changed uuid;
            next_version bigint;
        BEGIN
            IF current_setting('registry.bulk_load', true) = 'on' THEN
                RETURN NULL;
            END IF;
            IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
            changed := {partner.format(row='r')};
            IF changed IS NOT NULL THEN
                UPDATE partner_change_counter SET version = version + 1
                    RETURNING version INTO next_version;
                INSERT INTO partner_changes (partner_id, version) VALUES (changed, next_version)
                    ON CONFLICT (partner_id) DO UPDATE SET version = EXCLUDED.version;
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        f"CREATE CONSTRAINT TRIGGER mark_partner_changed AFTER INSERT OR UPDATE OR DELETE"
        f" ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
        f" EXECUTE FUNCTION mark_partner_changed_{table}()"
    )


def _sqlite_triggers(table: str, partner: str) -> None:
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        changed = partner.format(row=row)
        op.execute(
            f"CREATE TRIGGER mark_partner_changed_{table}_{event.lower()} AFTER {event}"
            f" ON {table} WHEN {changed} IS NOT NULL BEGIN"
            " UPDATE partner_change_counter SET version = version + 1;"
            " INSERT INTO partner_changes (partner_id, version)"
            f" VALUES ({changed}, (SELECT version FROM partner_change_counter))"
            " ON CONFLICT (partner_id) DO UPDATE SET version = excluded.version;"
            " END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER mark_partner_changed ON {table}")
            op.execute(f"DROP FUNCTION mark_partner_changed_{table}()")
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER mark_partner_changed_{table}_{event}")
    with op.batch_alter_table('partner_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_changes_version')

    op.drop_table('partner_changes')
    op.drop_table('partner_change_counter')
