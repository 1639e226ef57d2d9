"""approvals: requests for a reservation's approval and their decisions

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 04:00:00.000000

One row per request: its reservation, the rule that asked for it and its performer, its
state (pending, approved, rejected, expired, withdrawn), when it expires, and who decided
when and why; and who was told of which booking by mail, when. At most one pending
request per reservation (a partial unique index): two syncs asking at once, or a decision
racing a new request, leave one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import calsync.store.types

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = calsync.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.String(length=36), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("performer", sa.String(length=500), nullable=False),
        sa.Column("requested_because", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_at", moment, nullable=False),
        sa.Column("expires_at", moment, nullable=False),
        sa.Column("decided_by", sa.String(length=500), nullable=False),
        sa.Column("decided_at", moment, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("notified_at", moment, nullable=True),
        sa.ForeignKeyConstraint(["reservation_id"], ["reservations.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["workplace_items.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approvals_reservation_id", "approvals", ["reservation_id"])
    op.create_index("ix_approvals_state_expires", "approvals", ["state", "expires_at"])
    op.create_index(
        "uq_approvals_one_pending",
        "approvals",
        ["reservation_id"],
        unique=True,
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "approval_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=500), nullable=False),
        sa.Column("sent_at", moment, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reservation_id", "recipient", name="uq_approval_notice"),
    )
    op.create_index("ix_approval_notices_recipient", "approval_notices", ["recipient"])


def downgrade() -> None:
    op.drop_index("ix_approval_notices_recipient", table_name="approval_notices")
    op.drop_table("approval_notices")
    op.drop_index("uq_approvals_one_pending", table_name="approvals")
    op.drop_index("ix_approvals_state_expires", table_name="approvals")
    op.drop_index("ix_approvals_reservation_id", table_name="approvals")
    op.drop_table("approvals")
