"""unfinished events by item: a partial index for the items' synchronization state

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00.000000

Each workplace item shows how many of its events wait and how many ended in error
(`calsync.store.overview`). Counted along the claim index (state, next_attempt_at), each
of those events was read from the table to learn its item: 300 ms for the 30,000 events
in error of a log of 1,000,000 (bench/api.py). This index holds the unfinished events
alone (new, processing, error: a small share of the log, which leaves it once
processed), with their item, so the counts read the index only.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("state IN ('new', 'processing', 'error')")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_unfinished_item",
            ["item_id", "state"],
            unique=False,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_unfinished_item")
