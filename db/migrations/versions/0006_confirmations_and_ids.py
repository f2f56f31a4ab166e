"""confirmation nonces; on SQLite, ids that reach buttons are never reused

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose ids reach callback data. PostgreSQL sequences never hand an id out twice; SQLite
# reuses the largest deleted rowid unless the table is declared AUTOINCREMENT, which needs the
# table rebuilt (Alembic's batch mode copies it; migrations run without foreign-key enforcement,
# so the copy deletes nothing).
NEVER_REUSED = (
    "users",
    "checkins",
    "escalations",
    "caregiver_alerts",
    "reminder_deliveries",
    "caregiver_invites",
    "caregiver_links",
)
OPEN = sa.text("status = 'open'")


def _rebuild(autoincrement: bool) -> None:
    # The partial index is recreated by hand: reflection would not carry its WHERE clause.
    op.drop_index("uq_checkins_one_open", table_name="checkins")
    for table in NEVER_REUSED:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
    op.create_index("uq_checkins_one_open", "checkins", ["user_id"], unique=True, sqlite_where=OPEN)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("confirm_nonce", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("confirm_nonce")
