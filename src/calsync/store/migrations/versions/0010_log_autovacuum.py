"""the exchange log's tables are vacuumed after 1% of new rows, not 20%

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00.000000

PostgreSQL only (SQLite has no vacuum thresholds). The dashboard's counts and the pages'
lists read the exchange log by index only (`calsync.store.health`, migration 0008): an
index-only scan answers from the index alone only for the pages the visibility map marks
all-visible, which VACUUM does. The log is appended to all day, and PostgreSQL's default
starts an insert-driven vacuum after 20% of a table's rows are new: on a log of 1,000,000
events, 200,000 events later. Until then every count of the day's events fetched each row
from the table (34,000 heap pages for 34,000 new events: 230 ms a dashboard, was 17 ms
after a vacuum; bench/api.py). Here: after 1% (10,000 events), and analyzed after 2%, so
the planner's statistics follow the day too. Each vacuum of an append-only table only
visits the pages changed since the last.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("events", "calendar_items", "synchronizations")
#: autovacuum_vacuum_insert_scale_factor came with PostgreSQL 13.
SETTINGS = {
    "autovacuum_vacuum_insert_scale_factor": ("0.01", 130000),
    "autovacuum_vacuum_scale_factor": ("0.02", 0),
    "autovacuum_analyze_scale_factor": ("0.02", 0),
}


def _settings() -> dict[str, str]:
    version = int(op.get_bind().exec_driver_sql("SHOW server_version_num").scalar_one())
    return {name: value for name, (value, since) in SETTINGS.items() if version >= since}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    chosen = ", ".join(f"{name} = {value}" for name, value in _settings().items())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({chosen})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    names = ", ".join(_settings())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({names})")
