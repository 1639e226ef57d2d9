"""A configured `calsync` for the command-line tests: a Radicale room, both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from calsync.cli import app
from calsync.providers.caldav import CalDAVProvider


def write_config(
    path: Path,
    database_url: str,
    server_url: str,
    calendar: str,
    extra: str = "",
    lease: float = 2.0,
) -> Path:
    path.write_text(
        f"""
[database]
url = "{database_url}"

[sync]
lease_seconds = {lease}
{extra}

[connections.dav]
kind = "caldav"
url = "{server_url}"

[[items]]
name = "Room A"
time_zone = "Europe/Berlin"
binding = {{ connection = "dav", calendar = "{calendar}", room_address = "room-a@example.com" }}
"""
    )
    # Only init creates a database: every configuration here starts initialized.
    initialized = CliRunner().invoke(app, ["--config", str(path), "init"])
    assert initialized.exit_code == 0, initialized.output
    return path


@pytest.fixture
def calsync(tmp_path, database_url, radicale, room_calendar):
    """`calsync(*args) -> Result` (any exit code), with `.config`, `.provider`, `.calendar`."""
    config = write_config(tmp_path / "calsync.toml", database_url, radicale.url, room_calendar)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, ["--config", str(config), *args])

    run.config = config
    run.calendar = room_calendar
    run.provider = CalDAVProvider(radicale.url)
    yield run
    run.provider.close()
