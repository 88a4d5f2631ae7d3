"""status_change: each change recorded once (seq, unique per dossier), duplicates removed

Two imports of different sources at once both saw a dossier's old status and both recorded the
change: the timeline showed it twice. Each entry now has its place in the dossier's history
(`seq` 0, 1, 2 …) and (dossier_id, seq) is unique: the import that comes second writes the same
place and is ignored (ON CONFLICT DO NOTHING). First the duplicates already stored go: an entry
whose status is the status of the entry before it (by id) in the same dossier's history is not a
change. Then the remaining entries are numbered in id order.

Revision ID: 0009
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DUPLICATES = """
DELETE FROM status_change WHERE id IN (
    SELECT id FROM (
        SELECT id, status, LAG(status) OVER (PARTITION BY dossier_id ORDER BY id) AS before
        FROM status_change
    ) AS h WHERE h.status = h.before
)
"""

_NUMBER = """
UPDATE status_change SET seq = (
    SELECT count(*) FROM status_change AS earlier
    WHERE earlier.dossier_id = status_change.dossier_id AND earlier.id < status_change.id
)
"""


def upgrade() -> None:
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
    op.execute(_DUPLICATES)
    op.execute(_NUMBER)
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_status_change_dossier_seq", ["dossier_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("status_change", schema=None) as batch_op:
        batch_op.drop_constraint("uq_status_change_dossier_seq", type_="unique")
        batch_op.drop_column("seq")
