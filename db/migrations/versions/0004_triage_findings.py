"""triage by findings: profile facts, escalations as an outbox, caregiver alert outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("bone_risk", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("immunosuppressed", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("cancer_history", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("profile_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("escalations") as batch:
        batch.alter_column("checkin_id", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("tier", existing_type=sa.String(length=8), type_=sa.String(length=12))
        batch.add_column(
            sa.Column("findings", sa.String(length=255), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("pain", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failed", sa.String(length=32), nullable=True))
        batch.create_index("ix_escalations_pending", ["sent_at", "next_attempt_at"])
    # The old two tiers map onto the new scale: red advice was "go now", amber "contact soon".
    op.execute("UPDATE escalations SET tier = 'emergency' WHERE tier = 'red'")
    op.execute("UPDATE escalations SET tier = 'soon' WHERE tier = 'amber'")
    op.create_table(
        "caregiver_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_caregiver_alerts_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["caregiver_links.id"],
            name=op.f("fk_caregiver_alerts_link_id_caregiver_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caregiver_alerts")),
        sa.UniqueConstraint(
            "escalation_id", "link_id", name=op.f("uq_caregiver_alerts_escalation_id_link_id")
        ),
    )
    op.create_index(
        op.f("ix_caregiver_alerts_escalation_id"), "caregiver_alerts", ["escalation_id"]
    )
    op.create_index(
        "ix_caregiver_alerts_pending", "caregiver_alerts", ["sent_at", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_caregiver_alerts_pending", table_name="caregiver_alerts")
    op.drop_index(op.f("ix_caregiver_alerts_escalation_id"), table_name="caregiver_alerts")
    op.drop_table("caregiver_alerts")
    op.execute("UPDATE escalations SET tier = 'red' WHERE tier IN ('emergency', 'urgent')")
    op.execute("UPDATE escalations SET tier = 'amber' WHERE tier = 'soon'")
    op.execute("DELETE FROM escalations WHERE checkin_id IS NULL")
    with op.batch_alter_table("escalations") as batch:
        batch.drop_index("ix_escalations_pending")
        batch.drop_column("failed")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("pain")
        batch.drop_column("findings")
        batch.alter_column("tier", existing_type=sa.String(length=12), type_=sa.String(length=8))
        batch.alter_column("checkin_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("profile_at")
        batch.drop_column("cancer_history")
        batch.drop_column("immunosuppressed")
        batch.drop_column("bone_risk")
