"""Partner text search (`?q=`) through trigram indexes, where PostgreSQL has pg_trgm.

`?q=` finds partners whose name or description holds the text, as `lower(column) LIKE
'%text%'`, which no b-tree can answer. A text many partners hold was quick, its first page
found early in name order, but a text few or none hold (the usual search for one partner by
name) read all 20,000 partners at national scale: 30-37 ms of the server's work, for any
caller of the partner list or of the public directory. A GIN index of each column's trigrams
(pg_trgm, a trusted extension that ships with PostgreSQL) answers it in under 2 ms
(docs/benchmark.md). Where the extension cannot be installed the search reads the table as
before, and SQLite, the embedded database of a small registry, has no such index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 07:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("name", "description")


def _install_trigrams() -> bool:
    """Install pg_trgm in this database if it is not; whether it is now."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    available = bind.scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    )
    if not available:
        return False
    try:
        # In a savepoint: a role that may not create it leaves the migration's transaction
        # usable, and the search as it was.
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    if _install_trigrams():
        for column in COLUMNS:
            op.execute(
                f"CREATE INDEX ix_partners_{column}_trigrams ON partners "
                f"USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade() -> None:
    # The extension stays: other objects of the database may use it.
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_partners_{column}_trigrams")
