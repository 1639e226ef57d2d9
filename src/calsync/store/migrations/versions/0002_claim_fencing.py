"""claim fencing: a token and a start time on each event's claim

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 17:15:00.000000

Each claim of an event increments `claim_token`; every commit of a run checks that the
token is still its own (`EventRepository.hold`), so a worker that stalled past its lease
and lost the event to another commits nothing more. `claimed_at` says since when the
current claim holds, for the message of a busy calendar.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import calsync.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claim_token", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("claimed_at", calsync.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claim_token")
