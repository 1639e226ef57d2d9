"""Commands that read answer at once, also while a worker writes (SQLite: one writer)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

from typer.testing import CliRunner

from calsync.bootstrap import build
from calsync.cli import app
from calsync.config import load
from tests.store.test_retention import record


def test_commands_that_read_answer_while_a_worker_holds_the_write_lock(tmp_path):
    database = tmp_path / "calsync.db"
    config = tmp_path / "calsync.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n\n[[items]]\nname = "Room A"\n')
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "init"]).exit_code == 0
    services = build(load(config), migrate=False)
    _, event_id = record(services, days_ago=1, now=datetime.now(UTC))
    services.close()

    worker = sqlite3.connect(database, isolation_level=None, timeout=0)
    worker.execute("BEGIN IMMEDIATE")  # a worker in the middle of a write transaction
    try:
        for command in (
            ["init"],
            ["events", "show", str(event_id)],
            ["events", "list", "--limit", "1", "--item", "Room A"],
            ["items", "list", "--limit", "1"],
            ["deltas", "list", "--limit", "1"],
            ["reservations", "list", "--limit", "1", "--item", "Room A"],
        ):
            began = time.perf_counter()
            result = runner.invoke(app, ["--config", str(config), *command])
            assert result.exit_code == 0, (command, result.output, result.exception)
            assert time.perf_counter() - began < 5, command
    finally:
        worker.rollback()
        worker.close()


def test_commands_that_read_one_record_load_no_migrations_parsers_or_http(tmp_path):
    """What a read costs is the interpreter, the command line, the configuration and the
    store; Alembic (once the schema is at head), the iCalendar readers and the HTTP
    client are loaded only by the commands that use them."""
    database = tmp_path / "calsync.db"
    config = tmp_path / "calsync.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n\n[[items]]\nname = "Room A"\n')
    assert CliRunner().invoke(app, ["--config", str(config), "init"]).exit_code == 0
    services = build(load(config), migrate=False)
    _, event_id = record(services, days_ago=1, now=datetime.now(UTC))
    services.close()
    program = f"""
import sys
from typer.testing import CliRunner
from calsync.cli import app
for args in (["init"], ["events", "show", "{event_id}"], ["reservations", "list", "--limit", "1"],
             ["deltas", "list", "--limit", "1"], ["reservations", "show", "0000"]):
    result = CliRunner().invoke(app, ["--config", {str(config)!r}, *args])
    assert result.exit_code == (1 if args[-1] == "0000" else 0), result.output
heavy = ("alembic", "icalendar", "recurring_ical_events", "httpx", "lxml", "radicale",
         "sqlalchemy.dialects.postgresql", "psycopg")
print(sorted(name for name in heavy if name in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
