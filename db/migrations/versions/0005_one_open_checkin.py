"""at most one open check-in per person

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    # Older races may have left two open check-ins for one person: keep the newest open, close
    # the others as the housekeeping job would (never counted as complete).
    op.execute(
        "UPDATE checkins SET status = 'abandoned' WHERE status = 'open' AND id NOT IN "
        "(SELECT MAX(id) FROM checkins WHERE status = 'open' GROUP BY user_id)"
    )
    op.create_index(
        "uq_checkins_one_open",
        "checkins",
        ["user_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_checkins_one_open", table_name="checkins")
