"""portal_figure (the portal's published 766 figures) and unit.created_by_run_id

`tthc portal-figures import` stores what the national portal published per unit and period;
the reconciliation page and `tthc portal-figures compare` set it beside ours. A unit an import
had to invent (not in units.csv) remembers the run, for the data-quality panel.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_figure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("file_name", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_code", "period_start", "period_end", name="uq_portal_figure"),
    )
    # a plain ADD COLUMN … REFERENCES, not a batch copy of the table: SQLite runs with foreign
    # keys on, and dropping a unit table the dossiers point at would fail on a populated database
    if op.get_bind().dialect.name == "sqlite":  # Alembic adds no constraint there outside a batch copy
        op.execute("ALTER TABLE unit ADD COLUMN created_by_run_id INTEGER "
                   "CONSTRAINT fk_unit_created_by_run_id REFERENCES import_run (id)")
    else:
        op.add_column("unit", sa.Column("created_by_run_id", sa.Integer(),
                                        sa.ForeignKey("import_run.id", name="fk_unit_created_by_run_id"),
                                        nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_constraint("fk_unit_created_by_run_id", type_="foreignkey")
        batch_op.drop_column("created_by_run_id")
    op.drop_table("portal_figure")
