"""`calsync purge` from the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from calsync.bootstrap import build
from calsync.cli import app
from calsync.config import load
from tests.store.test_retention import record


@pytest.fixture
def run(tmp_path, database_url):
    config = tmp_path / "calsync.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n\n[retention]\nprocessed_days = 30\n\n'
        '[[items]]\nname = "Room A"\n'
    )

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    invoke("init")
    invoke.services = build(load(config), migrate=False)
    yield invoke
    invoke.services.close()


def test_a_dry_run_says_what_purge_would_delete_and_purge_then_deletes_it(run):
    now = datetime.now(UTC)
    for days_ago in (45, 40, 2):
        record(run.services, days_ago=days_ago, items=("applied", "skipped"), now=now)

    dry = json.loads(run("purge", "--dry-run", "--json"))
    assert (dry["dry_run"], dry["events"], dry["calendar_items"]) == (True, 2, 4)
    assert len(json.loads(run("events", "list", "--json"))) == 3
    assert "would delete" in run("purge", "--dry-run")

    done = json.loads(run("purge", "--json"))
    assert (done["dry_run"], done["events"], done["calendar_items"]) == (False, 2, 4)
    [kept] = json.loads(run("events", "list", "--json"))
    assert kept["created_at"] > done["kept_since"]["processed"]
    assert json.loads(run("purge", "--json"))["events"] == 0
