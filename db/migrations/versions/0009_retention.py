"""retention, and files for caregivers: each person chooses how long their check-ins are kept,
and whether their caregivers may download them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (never a table copy: users is what every person's
    # rows hang on, with ON DELETE CASCADE).
    op.add_column("users", sa.Column("keep_days", sa.Integer(), nullable=True))
    op.add_column(
        "sharing_settings",
        sa.Column("caregiver_files", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("sharing_settings") as batch:
        batch.drop_column("caregiver_files")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("keep_days")
