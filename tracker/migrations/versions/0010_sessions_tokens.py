"""sessions that can be ended on the server, API tokens that expire and can be revoked

app_user.session_generation: stored in each login's session and compared on every request; raised
by logout, a password change, deactivation and a change of role or units, which ends every session
the user had (web.auth). api_token.expires_at / revoked_at: a token past either is refused
(tracker.users.user_for_token); revoked rows stay, so the admin page and `tthc users tokens` show them.

Revision ID: 0010
Revises: 0006
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from tracker.clock import now_local

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
    # tokens made before had no expiry: they get the default term from today, so none lives for
    # ever and no integration breaks on the day of the upgrade
    t = sa.table("api_token", sa.column("expires_at", sa.DateTime()))
    op.execute(t.update().where(t.c.expires_at.is_(None))
               .values(expires_at=now_local() + timedelta(days=90)))


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("session_generation")
