"""unfinished events: a partial index for the items' state and the events in error

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:30:00.000000

The unfinished events (new, processing, error) are a small share of the exchange log,
which an event leaves once processed. Two readings asked the whole log for them
(bench/api.py, 1,000,000 events, 3% in error):

- each workplace item's count of events waiting and in error (`calsync.store.overview`):
  along the claim index (state, next_attempt_at), each event was read from the table to
  learn its item (300 ms for 30,000 events in error); here the item is in the index;
- the events in error, newest first (`GET /api/v1/events?status=error`): a walk back
  along the primary key, skipping the 97% that are processed; here (state, id) gives
  them in order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("state IN ('new', 'processing', 'error')")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_unfinished",
            ["state", "id", "item_id"],
            unique=False,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_unfinished")
