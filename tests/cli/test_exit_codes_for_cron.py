"""What a cron job running `calsync worker --once` learns when the server is down: a
read that failed and waits for its retry did not read the calendar, so the command exits
3 (events failed), not 0."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from tests.cli.conftest import write_config

pytestmark = pytest.mark.radicale


def test_worker_once_exits_non_zero_when_every_read_failed(tmp_path, database_url, room_calendar):
    config = write_config(tmp_path / "down.toml", database_url, "http://127.0.0.1:9", room_calendar)

    result = CliRunner().invoke(app, ["--config", str(config), "worker", "--once"])

    assert "1 events run" in result.output, result.output
    assert result.exit_code != 0, result.output
