"""Partner pairs: each partner's facets and evidence tiers as arrays on its own row.

A list page read every row's facets and tiers through a subquery each and filtered through one
index scan per facet: most of PostgreSQL's work for a filtered page of 50. `partners.facet_pairs`
and `partners.tier_pairs` hold the same facts as `key:value` strings; lists filter facets with
`@>` through a GIN index on `facet_pairs`.

The child tables stay the source of truth; triggers keep the arrays in step, so that no write
path, present or future, can forget them. On PostgreSQL a statement-level trigger recomputes the
array of every partner the statement touched, after taking those partners' rows: a concurrent
writer of the same partner's rows commits first, and the recomputing statement, which takes its
snapshot after the lock, sees them. A bulk load that sets `registry.bulk_load` to `on` fills the
arrays itself (`partners.repository.fill_pairs`), as it marks partners changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each array: the table it copies and the pair each of its rows gives.
ARRAYS = {
    "facet_pairs": ("partner_facets", "facet || ':' || value"),
    "tier_pairs": ("partner_evidence_tiers", "need_domain || ':' || tier"),
}
# Each event's transition tables, as the PostgreSQL functions below read them.
TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_rows",
    "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
}


def _pairs(dialect: str, table: str, pair: str) -> str:
    """A partner's pairs from ``table``, in terms of the `partners` row being updated."""
    rows = f"FROM {table} WHERE partner_id = partners.id"
    if dialect == "postgresql":
        return f"ARRAY(SELECT {pair} {rows})"
    return f"(SELECT json_group_array({pair}) {rows})"


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    # Not in batch mode: on SQLite a batch would recreate `partners` and drop its triggers.
    for column in ARRAYS:
        op.add_column(
            'partners',
            sa.Column(
                column,
                sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), 'postgresql'),
                nullable=True,
            ),
        )
    if dialect == "postgresql":
        # The match index reads no pairs: filling them marks no partner changed (migration
        # 0006). Its deferred triggers run at once, and do nothing, so that no event is left
        # pending for CREATE INDEX; the setting lasts until this migration commits, and
        # nothing after the UPDATE writes.
        op.execute("SET LOCAL registry.bulk_load = 'on'")
    filled = ", ".join(f"{column} = {_pairs(dialect, *child)}" for column, child in ARRAYS.items())
    op.execute(f"UPDATE partners SET {filled}")
    if dialect == "postgresql":
        op.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # Built after the arrays are filled, in one pass. Without the pending list of fastupdate,
    # which every search reads through until a vacuum merges it: partners change seldom,
    # lists are read all the time.
    op.create_index(
        'ix_partners_facet_pairs',
        'partners',
        ['facet_pairs'],
        postgresql_using='gin',
        postgresql_with={'fastupdate': 'off'},
    )
    for column, (table, pair) in ARRAYS.items():
        if dialect == "postgresql":
            _postgresql_triggers(column, table, _pairs(dialect, table, pair))
        else:
            _sqlite_triggers(column, table, _pairs(dialect, table, pair))
    if dialect == "postgresql":
        # The planner has no statistics for the new columns until the next autovacuum;
        # without them it reads a filtered list through the name index, partner by partner.
        op.execute("ANALYZE partners")


def _postgresql_triggers(column: str, table: str, pairs: str) -> None:
    op.execute(
        f"""
        CREATE FUNCTION keep_partner_{column}() RETURNS trigger AS $$
        DECLARE
            touched uuid[];
        BEGIN
            IF current_setting('registry.bulk_load', true) = 'on' THEN
                RETURN NULL;
            END IF;
            IF TG_OP = 'INSERT' THEN
                SELECT array_agg(DISTINCT partner_id) INTO touched FROM new_rows;
            ELSIF TG_OP = 'DELETE' THEN
                SELECT array_agg(DISTINCT partner_id) INTO touched FROM old_rows;
            ELSE
                SELECT array_agg(partner_id) INTO touched FROM (
                    SELECT partner_id FROM new_rows UNION SELECT partner_id FROM old_rows
                ) AS touched_rows;
            END IF;
            PERFORM 1 FROM partners WHERE id = ANY(touched) ORDER BY id FOR UPDATE;
            UPDATE partners SET {column} = {pairs} WHERE id = ANY(touched);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for event, transitions in TRANSITIONS.items():
        op.execute(
            f"CREATE TRIGGER keep_partner_{column}_{event.lower()} AFTER {event}"
            f" ON {table} REFERENCING {transitions} FOR EACH STATEMENT"
            f" EXECUTE FUNCTION keep_partner_{column}()"
        )


def _sqlite_triggers(column: str, table: str, pairs: str) -> None:
    for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW")), ("DELETE", ("OLD",))):
        touched = ", ".join(f"{row}.partner_id" for row in rows)
        op.execute(
            f"CREATE TRIGGER keep_partner_{column}_{event.lower()} AFTER {event} ON {table}"
            f" BEGIN UPDATE partners SET {column} = {pairs} WHERE id IN ({touched}); END"
        )


def downgrade() -> None:
    postgresql_database = op.get_context().dialect.name == "postgresql"
    for column, (table, _pair) in ARRAYS.items():
        for event in TRANSITIONS:
            on_table = f" ON {table}" if postgresql_database else ""
            op.execute(f"DROP TRIGGER keep_partner_{column}_{event.lower()}{on_table}")
        if postgresql_database:
            op.execute(f"DROP FUNCTION keep_partner_{column}()")
    op.drop_index('ix_partners_facet_pairs', table_name='partners')
    for column in ARRAYS:
        op.drop_column('partners', column)
