"""`calsync reservations check-in|check-out`: what they change, what `show` then says,
and a refusal's exit code and message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.cli.common import console


@pytest.fixture
def run(tmp_path, database_url, monkeypatch):
    monkeypatch.setattr(console, "width", 200)
    config = tmp_path / "calsync.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n\n'
        "[policies.kinds.desk]\ncheck_in_required = true\n\n"
        '[[items]]\nname = "Desk 1"\nkind = "desk"\n'
    )

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        assert result.exit_code == code, result.output
        return result.output

    invoke("init")
    return invoke


def book(run, starts_in: timedelta) -> dict:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + starts_in
    return json.loads(
        run(
            "reservations", "create", "--item", "Desk 1", "--start", start.isoformat(),
            "--end", (start + timedelta(hours=1)).isoformat(), "--json",
        )
    )  # fmt: skip


def test_a_checked_in_reservation_shows_when(run):
    booked = book(run, timedelta(minutes=10))
    checked_in = json.loads(run("reservations", "check-in", booked["id"][-8:], "--json"))
    assert checked_in["checked_in_at"] is not None
    assert checked_in["checked_out_at"] is None
    shown = run("reservations", "show", booked["id"])
    assert f"checked in at {checked_in['checked_in_at'][:19].replace('T', ' ')} UTC" in shown


def test_a_check_out_ends_the_reservation_at_the_next_minute(run):
    booked = book(run, -timedelta(minutes=5))
    run("reservations", "check-in", booked["id"])
    out = json.loads(run("reservations", "check-out", booked["id"], "--json"))
    end = datetime.fromisoformat(out["end"])
    assert datetime.now(UTC) <= end <= datetime.now(UTC) + timedelta(minutes=1)
    assert end < datetime.fromisoformat(booked["end"])
    assert out["checked_out_at"] is not None
    assert "checked out at" in run("reservations", "show", booked["id"])


def test_a_refused_check_in_exits_1_saying_why(run):
    booked = book(run, timedelta(hours=2))
    output = run("reservations", "check-in", booked["id"], code=1)
    assert "too early" in output
    assert "check-in" in output
    run("reservations", "cancel", booked["id"])
    assert "is cancelled" in run("reservations", "check-in", booked["id"], code=1)


def test_a_check_out_without_a_check_in_where_one_is_required_exits_1(run):
    booked = book(run, -timedelta(minutes=5))
    output = run("reservations", "check-out", booked["id"], code=1)
    assert "not checked in" in output
