"""push channels: the watch channels calsync opened, to verify notifications and renew

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000

One row per channel: its item, connection and calendar, the id calsync chose (unique),
the provider's resource id, the SHA-256 of its secret token (never the token), the
webhook address, when it expires and when calsync stopped it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import calsync.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    moment = calsync.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("connection", sa.String(length=200), nullable=False),
        sa.Column("calendar", sa.String(length=1000), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=1000), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=2000), nullable=False),
        sa.Column("expires_at", moment, nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("stopped_at", moment, nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["workplace_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id"),
    )
    op.create_index("ix_channels_item_id", "channels", ["item_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_channels_item_id", table_name="channels")
    op.drop_table("channels")
