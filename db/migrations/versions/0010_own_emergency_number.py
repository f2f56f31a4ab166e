"""the person's own emergency number: where the bot knows no checked ambulance number for the
country (or a region uses another), the patient can save the one they use

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (never a table copy: see 0009).
    op.add_column("users", sa.Column("emergency_number", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("emergency_number")
