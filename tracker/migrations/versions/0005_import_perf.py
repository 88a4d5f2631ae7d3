"""dossier: drop the single-column indexes on received_at and procedure_id (import speed)

Every index costs every imported row: these two were a fifth of a first import's time
(bench/import_csv.py) and no query needs them. The period reports and the overdue list keep
SQLite off the received_at index on purpose (scanning beats it, tracker.reports.Unindexed and
web.lists); the unit views, digests and audits by unit take ix_dossier_unit_received; a filter
on procedure narrows the open dossiers ix_dossier_open_due finds.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_received_at")
        batch_op.drop_index("ix_dossier_procedure_id")


def downgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.create_index("ix_dossier_procedure_id", ["procedure_id"], unique=False)
        batch_op.create_index("ix_dossier_received_at", ["received_at"], unique=False)
