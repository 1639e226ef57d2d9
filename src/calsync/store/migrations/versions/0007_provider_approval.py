"""reservations.provider_approval: the room's own approval in the calendar

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:00:00.000000

Where a room's calendar approves requests itself (an Exchange room mailbox whose delegates
decide), each reservation keeps the room's answer as last read (awaiting, accepted,
declined); NULL where the calendar asks for no approval of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reservations", sa.Column("provider_approval", sa.String(20), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+), not a rebuilt table: the double-booking
    # triggers and indexes on reservations stay.
    op.drop_column("reservations", "provider_approval")
