"""every supplement pair of a dossier, and the columns of the portal's 766 method

A `supplement` table keeps each request/resubmission pair (DanhSachHoSoBoSung), not only the
last one; the dossier keeps their summary (count, closed time, latest event, open request) and
the derived columns tracker.portal766 counts in SQL. Existing rows with the last pair's columns
get the summary of that one known pair (a re-import of their source brings the others), and every
row is marked stale (derived_fp = ''): the next refresh (any `tthc` command, the dashboard)
derives the new columns.

Revision ID: 0007
Revises: 0005b
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOMENTS = ("supplement_last_at", "supplement_open_at", "portal_due_at", "portal_finish_at", "portal_end_at",
            "portal_late_after")


def upgrade() -> None:
    op.create_table(
        "supplement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=True),
        sa.Column("resubmitted_at", sa.DateTime(), nullable=True),
        sa.Column("previous_due_at", sa.DateTime(), nullable=True),
        sa.Column("new_due_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossier.id"]),
        sa.PrimaryKeyConstraint("id"),
        # used by imports (replace a dossier's pairs) and the portal method (a dossier's pairs)
        sa.UniqueConstraint("dossier_id", "seq", name="uq_supplement_dossier_seq"),
    )
    # plain ADD COLUMNs with constant defaults: a batch copy of the dossier table would DROP it,
    # which SQLite refuses on a populated database whose status history points at it
    op.add_column("dossier", sa.Column("supplement_count", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("dossier", sa.Column("supplement_seconds", sa.Float(), nullable=False, server_default="0"))
    for name in _MOMENTS:
        op.add_column("dossier", sa.Column(name, sa.DateTime(), nullable=True))
    false = sa.text("false") if op.get_bind().dialect.name == "postgresql" else sa.text("0")
    op.add_column("dossier", sa.Column("portal_late", sa.Boolean(), nullable=False, server_default=false))
    op.add_column("dossier", sa.Column("portal_waiting_late", sa.Boolean(), nullable=False, server_default=false))
    op.add_column("dossier", sa.Column("portal_work_seconds", sa.Integer(), nullable=True))
    # used by the portal's 766 method: dossiers with a supplement event after T
    op.create_index("ix_dossier_supplement_last", "dossier", ["supplement_last_at"], unique=False,
                    sqlite_where=sa.text("supplement_last_at IS NOT NULL"),
                    postgresql_where=sa.text("supplement_last_at IS NOT NULL"))
    if op.get_bind().dialect.name == "postgresql":
        seconds = "EXTRACT(EPOCH FROM resubmitted_at - supplement_requested_at)"
    else:
        seconds = "ROUND((julianday(resubmitted_at) - julianday(supplement_requested_at)) * 86400)"
    op.execute(
        "UPDATE dossier SET supplement_count = 1, "
        f"supplement_seconds = CASE WHEN resubmitted_at > supplement_requested_at THEN {seconds} ELSE 0 END, "
        "supplement_last_at = CASE WHEN resubmitted_at > supplement_requested_at THEN resubmitted_at "
        "ELSE supplement_requested_at END, "
        "supplement_open_at = CASE WHEN resubmitted_at IS NULL THEN supplement_requested_at END "
        "WHERE supplement_requested_at IS NOT NULL")
    op.execute("UPDATE dossier SET derived_fp = ''")


def downgrade() -> None:
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_supplement_last")
        for name in ("portal_work_seconds", "portal_waiting_late", "portal_late", *reversed(_MOMENTS),
                     "supplement_seconds", "supplement_count"):
            batch_op.drop_column(name)
    op.drop_table("supplement")
