"""dossier: forget the import's clock as the finish of dossiers first seen already ended

Until this release a first import gave every ended dossier without a finish date the import's
wall clock as `first_seen_finished_at`, so a first import of history counted them all as
finished late. RULES §5 now says such a dossier, seen ended the first time, is on time and
finished at its receipt; only a dossier an earlier import saw open keeps the moment the product
first saw it ended. The status history tells them apart: a dossier none of whose recorded
statuses is an unended one (1–6) was never seen open. The derived columns are recomputed by
the next `tthc refresh` (the derivation version in the settings' fingerprint changed).

Revision ID: 0005b
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005b"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE dossier SET first_seen_finished_at = NULL "
        "WHERE status IN (7, 8, 9, 10) AND first_seen_finished_at IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM status_change sc WHERE sc.dossier_id = dossier.id "
        "AND sc.status NOT IN (7, 8, 9, 10))"
    )


def downgrade() -> None:
    pass  # the import clock it removed was never a fact; nothing to restore
