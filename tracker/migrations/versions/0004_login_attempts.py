"""failed logins shared by every worker (the login throttle), and the admin pages' change log

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        # used by the throttle: failures of one (username, address) within the window
        batch_op.create_index("ix_login_attempt_key", ["username", "ip", "attempted_at"], unique=False)
        # used by the pruning of old rows
        batch_op.create_index("ix_login_attempt_attempted_at", ["attempted_at"], unique=False)
    op.create_table(
        "admin_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_event", schema=None) as batch_op:
        # used by the admin page: the most recent changes
        batch_op.create_index("ix_admin_event_at", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("admin_event")
    op.drop_table("login_attempt")
