"""check-in: when a reservation was checked in, checked out, or released as a no-show

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:30:00.000000

Three moments on each reservation, NULL until they happen (every existing reservation
stays as it was: never checked in, out or released). The partial index
`ix_reservations_check_in_due` holds the reservations that still hold their item and were
never checked in, by item and end: the no-show release reads the running ones of an item
(`ReservationRepository.no_show_candidates`) from it, without a scan of the item's past.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import calsync.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Written out as the query repeats it: SQLite uses a partial index only then.
CHECK_IN_DUE = """
CREATE INDEX ix_reservations_check_in_due ON reservations (item_id, end_at, start_at)
WHERE status IN ('pending_approval', 'awaiting_confirmation', 'confirmed')
AND checked_in_at IS NULL
"""


def upgrade() -> None:
    moment = calsync.store.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checked_in_at", moment, nullable=True))
        batch_op.add_column(sa.Column("checked_out_at", moment, nullable=True))
        batch_op.add_column(sa.Column("no_show_released_at", moment, nullable=True))
    op.execute(CHECK_IN_DUE)


def downgrade() -> None:
    op.drop_index("ix_reservations_check_in_due", table_name="reservations")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_column("no_show_released_at")
        batch_op.drop_column("checked_out_at")
        batch_op.drop_column("checked_in_at")
