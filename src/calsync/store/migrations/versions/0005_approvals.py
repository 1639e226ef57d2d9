"""approvals, and items that allow conflicts

Part one, approvals: requests for a reservation's approval and their decisions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:00:00.000000

One row per request: its reservation, the rule that asked for it and its performer, its
state (pending, approved, rejected, expired, withdrawn), when it expires, and who decided
when and why; and who was told of which booking by mail, when. At most one pending
request per reservation (a partial unique index): two syncs asking at once, or a decision
racing a new request, leave one.

Part two: an item whose booking policy allows conflicts (a shared desk area, a pool car)
may hold overlapping reservations; the database refuses overlaps only on the others. On
PostgreSQL each reservation is `exclusive` unless its item allows conflicts (set by a
trigger from the item's stored policy) and the exclusion constraint covers exclusive
holds only; on SQLite the double-booking triggers skip items that allow conflicts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import calsync.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


HOLDING = "('pending_approval', 'awaiting_confirmation', 'confirmed')"

POSTGRES_EXCLUSIVE = """
CREATE FUNCTION calsync_reservation_exclusive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.exclusive := NOT coalesce(
        (SELECT (policy::jsonb ->> 'allow_conflicts')::boolean
         FROM workplace_items WHERE id = NEW.item_id),
        false);
    RETURN NEW;
END $$
"""

POSTGRES_EXCLUSIVE_TRIGGER = """
CREATE TRIGGER reservation_exclusive BEFORE INSERT OR UPDATE OF item_id, status, start_at, end_at
ON reservations FOR EACH ROW EXECUTE FUNCTION calsync_reservation_exclusive()
"""

POSTGRES_NO_OVERLAP = f"""
ALTER TABLE reservations ADD CONSTRAINT no_double_booking EXCLUDE USING gist (
    item_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&
) WHERE (status IN {HOLDING} AND exclusive)
"""

POSTGRES_OLD_NO_OVERLAP = f"""
ALTER TABLE reservations ADD CONSTRAINT no_double_booking EXCLUDE USING gist (
    item_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&
) WHERE (status IN {HOLDING})
"""

SQLITE_NO_OVERLAP = """
CREATE TRIGGER no_double_booking_{when} BEFORE {when} ON reservations
WHEN NEW.status IN {holding} AND NOT coalesce((
    SELECT json_extract(policy, '$.allow_conflicts') FROM workplace_items
    WHERE id = NEW.item_id
), 0) AND EXISTS (
    SELECT 1 FROM (
        SELECT end_at FROM reservations AS other INDEXED BY ix_reservations_holding
        WHERE other.item_id = NEW.item_id AND other.id != NEW.id
          AND other.status IN {holding} AND other.start_at < NEW.end_at
        ORDER BY other.start_at DESC LIMIT 1
    ) AS latest WHERE latest.end_at > NEW.start_at
)
BEGIN SELECT RAISE(ABORT, 'no_double_booking: the item is already reserved then'); END
"""

SQLITE_OLD_NO_OVERLAP = """
CREATE TRIGGER no_double_booking_{when} BEFORE {when} ON reservations
WHEN NEW.status IN {holding} AND EXISTS (
    SELECT 1 FROM (
        SELECT end_at FROM reservations AS other INDEXED BY ix_reservations_holding
        WHERE other.item_id = NEW.item_id AND other.id != NEW.id
          AND other.status IN {holding} AND other.start_at < NEW.end_at
        ORDER BY other.start_at DESC LIMIT 1
    ) AS latest WHERE latest.end_at > NEW.start_at
)
BEGIN SELECT RAISE(ABORT, 'no_double_booking: the item is already reserved then'); END
"""


def _allow_conflicts() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE reservations ADD COLUMN exclusive boolean NOT NULL DEFAULT true")
        op.execute(POSTGRES_EXCLUSIVE)
        op.execute(POSTGRES_EXCLUSIVE_TRIGGER)
        op.execute("ALTER TABLE reservations DROP CONSTRAINT no_double_booking")
        op.execute(POSTGRES_NO_OVERLAP)
        return
    for when in ("INSERT", "UPDATE"):
        op.execute(f"DROP TRIGGER no_double_booking_{when}")
        op.execute(SQLITE_NO_OVERLAP.format(when=when, holding=HOLDING))


def _forbid_conflicts_again() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE reservations DROP CONSTRAINT no_double_booking")
        op.execute(POSTGRES_OLD_NO_OVERLAP)
        op.execute("DROP TRIGGER reservation_exclusive ON reservations")
        op.execute("DROP FUNCTION calsync_reservation_exclusive()")
        op.execute("ALTER TABLE reservations DROP COLUMN exclusive")
        return
    for when in ("INSERT", "UPDATE"):
        op.execute(f"DROP TRIGGER no_double_booking_{when}")
        op.execute(SQLITE_OLD_NO_OVERLAP.format(when=when, holding=HOLDING))


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
    _allow_conflicts()


def downgrade() -> None:
    _forbid_conflicts_again()
    op.drop_index("ix_approval_notices_recipient", table_name="approval_notices")
    op.drop_table("approval_notices")
    op.drop_index("uq_approvals_one_pending", table_name="approvals")
    op.drop_index("ix_approvals_state_expires", table_name="approvals")
    op.drop_index("ix_approvals_reservation_id", table_name="approvals")
    op.drop_table("approvals")
