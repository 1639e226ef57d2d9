"""Review: what a cron job running `calsync worker --once` learns when the server is down.

A read that fails against an unreachable server is retried later (state `new`, with
backoff), so it does not count as "ended in error": `worker --once` says "0 ended in
error" and exits 0, and the cron job cannot tell that no calendar was read.
"""

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
