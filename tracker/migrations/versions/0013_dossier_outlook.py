"""dossier_outlook: predicted lateness and time in status of each open dossier

Filled by `tthc refresh` and the scheduler's refresh job (tracker.outlook): the Kaplan–Meier
probability that the dossier finishes after its due, the history it stands on, and since when
the dossier has stood in its status (the stuck list). Recomputed whole each time.

Revision ID: 0013
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_outlook",
        sa.Column("dossier_id", sa.Integer(), sa.ForeignKey("dossier.id"), primary_key=True),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("likely_late", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("basis_kind", sa.String(length=20), nullable=False, server_default=""),
        sa.Column("basis_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("basis_months", sa.Integer(), nullable=False, server_default="12"),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("status_since", sa.DateTime(timezone=False), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=False), nullable=False),
    )
    # used by the overdue list's "likely late" filter and the overview's count
    op.create_index("ix_dossier_outlook_likely_late", "dossier_outlook", ["likely_late"])


def downgrade() -> None:
    op.drop_index("ix_dossier_outlook_likely_late", table_name="dossier_outlook")
    op.drop_table("dossier_outlook")
