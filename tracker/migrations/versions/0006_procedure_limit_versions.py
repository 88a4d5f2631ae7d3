"""procedure_limit: a procedure's time limits with the date each took effect

A procedure had one limit (procedure.limit_value/limit_unit/limit_text), so a changed catalogue
rewrote the computed due of every past dossier. Each limit becomes a version row; the existing
ones are in force since forever (effective_from NULL). Nothing reads the procedure's own columns
any more (tracker.limits picks the version by receipt date): they are dropped, so no code can
read a limit that is not the one in force.

Revision ID: 0006
Revises: 0011 (applied after 0011: the order the branches were merged in)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("limit_value", "limit_unit", "limit_text")


def upgrade() -> None:
    op.create_table(
        "procedure_limit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("limit_unit", sa.String(length=20), nullable=False),
        sa.Column("limit_text", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["procedure_id"], ["procedure.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("procedure_id", "effective_from", name="uq_procedure_limit"),
    )
    op.create_index("uq_procedure_limit_undated", "procedure_limit", ["procedure_id"], unique=True,
                    sqlite_where=sa.text("effective_from IS NULL"),
                    postgresql_where=sa.text("effective_from IS NULL"))
    op.execute("INSERT INTO procedure_limit (procedure_id, effective_from, limit_value, limit_unit, limit_text) "
               "SELECT id, NULL, limit_value, limit_unit, limit_text FROM procedure "
               "WHERE limit_value IS NOT NULL AND limit_unit IS NOT NULL AND limit_unit <> ''")
    for name in _COLUMNS:  # SQLite drops a plain column in place (3.35+): no copy of the table
        op.drop_column("procedure", name)


def downgrade() -> None:
    op.add_column("procedure", sa.Column("limit_value", sa.Float(), nullable=True))
    op.add_column("procedure", sa.Column("limit_unit", sa.String(length=20), nullable=True))
    op.add_column("procedure", sa.Column("limit_text", sa.String(length=200), nullable=False, server_default=""))
    # the latest version is the one a single limit can keep
    latest = ("(SELECT {c} FROM procedure_limit pl WHERE pl.procedure_id = procedure.id "
              "ORDER BY pl.effective_from IS NULL, pl.effective_from DESC LIMIT 1)")
    op.execute("UPDATE procedure SET " + ", ".join(f"{c} = {latest.format(c=c)}" for c in ("limit_value",
                                                                                          "limit_unit"))
               + ", limit_text = COALESCE(" + latest.format(c="limit_text") + ", '')")
    op.drop_index("uq_procedure_limit_undated", table_name="procedure_limit")
    op.drop_table("procedure_limit")
