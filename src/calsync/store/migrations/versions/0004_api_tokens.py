"""api tokens, and the indexes the API's lists page along

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:30:00.000000

`api_tokens`: one row per token `calsync tokens create` issued: its public key (shown in
lists, named to revoke it), a name, the role it grants, the approver's performer address,
the SHA-256 of the whole token (never the token), when it was made and revoked.

The API pages each list by keyset over a unique, indexed ordering (`calsync.api.
pagination`): reservations by (start, id), the exchange log by id, newest first. These
indexes let a page filtered by item, or a page of reservations without a filter, start
where the cursor points instead of scanning.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import calsync.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: (index, table, columns) the API's pages walk along.
PAGE_INDEXES = (
    ("ix_reservations_page", "reservations", ["start_at", "id"]),
    ("ix_events_item_page", "events", ["item_id", "id"]),
    ("ix_calendar_items_item_page", "calendar_items", ["item_id", "id"]),
    ("ix_synchronizations_item_page", "synchronizations", ["item_id", "id"]),
)


def upgrade() -> None:
    moment = calsync.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("performer", sa.String(length=500), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("revoked_at", moment, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    for name, table, columns in PAGE_INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in PAGE_INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table("api_tokens")
