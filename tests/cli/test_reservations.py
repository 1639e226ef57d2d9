"""Reservation ids in tables and commands: the part that tells rows apart is shown, and
any unique prefix or suffix of an id names its reservation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from calsync.bootstrap import build
from calsync.cli import app
from calsync.cli.common import console
from calsync.config import load
from calsync.domain.reservations import Origin, Reservation, ReservationStatus

NINE = datetime(2027, 2, 1, 9, tzinfo=UTC)


@pytest.fixture
def run(tmp_path, database_url, monkeypatch):
    monkeypatch.setattr(console, "width", 200)
    config = tmp_path / "calsync.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n\n[[items]]\nname = "Desk 1"\n')

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--config", str(config), *args])
        assert result.exit_code == code, result.output
        return result.output

    invoke("init")
    invoke.config = config
    return invoke


def create(run, hour: int, subject: str) -> dict:
    start = NINE + timedelta(hours=hour)
    return json.loads(
        run(
            "reservations", "create", "--item", "Desk 1", "--start", start.isoformat(),
            "--end", (start + timedelta(minutes=30)).isoformat(), "--subject", subject, "--json",
        )
    )  # fmt: skip


def store(run, *ids: str) -> None:
    services = build(load(run.config), migrate=False)
    try:
        with services.uow() as uow:
            uow.reservations.add_many(
                [
                    Reservation(
                        id=made, item="Desk 1", start=NINE + timedelta(days=n),
                        end=NINE + timedelta(days=n, hours=1), status=ReservationStatus.confirmed,
                        origin=Origin.workplace, uid=made, subject=f"Booking {n}",
                    )
                    for n, made in enumerate(ids)
                ],
                NINE,
            )  # fmt: skip
            uow.commit()
    finally:
        services.close()


def test_the_table_shows_the_end_of_each_id_where_time_ordered_ids_differ(run):
    made = [create(run, hour, f"Meeting {hour}")["id"] for hour in range(3)]
    table = run("reservations", "list")
    shown = [full[-8:] for full in made]
    for short in shown:
        assert re.search(rf"\b{short}\b", table)
    assert made[0][:8] not in table  # the time-ordered start, alike in ids of one minute


def test_a_unique_suffix_or_prefix_names_the_reservation_in_show_update_and_cancel(run):
    first = create(run, 0, "Planning")["id"]
    other = create(run, 1, "Review")["id"]
    shown = json.loads(run("reservations", "show", first[-8:], "--json"))
    assert shown["id"] == first
    moved = json.loads(
        run("reservations", "update", first[-6:].upper(), "--subject", "Moved", "--json")
    )
    assert (moved["id"], moved["subject"]) == (first, "Moved")
    cancelled = json.loads(run("reservations", "cancel", other[-8:], "--json"))
    assert (cancelled["id"], cancelled["status"]) == (other, "cancelled")
    by_prefix = json.loads(run("reservations", "show", first[:-4], "--json"))
    assert by_prefix["id"] == first


def test_an_ambiguous_short_id_is_refused_with_the_candidates(run):
    one = "01940000-0000-7000-8000-00000000abcd"
    two = "01940000-0000-7000-8000-0000ffffabcd"
    store(run, one, two)
    for given in ("abcd", "01940000"):
        refused = run("reservations", "cancel", given, code=1)
        assert "matches several reservations" in refused
        assert one in refused
        assert two in refused
    [still] = [r for r in json.loads(run("reservations", "list", "--json")) if r["id"] == one]
    assert still["status"] == "confirmed"
    assert json.loads(run("reservations", "show", "ffffabcd", "--json"))["id"] == two


@pytest.mark.parametrize(
    ("given", "message"),
    [("ab", "too short"), ("zzzz", "not a reservation id"), ("0123456789", "no reservation id")],
)
def test_a_short_id_that_names_no_reservation_says_why(run, given, message):
    create(run, 0, "Planning")
    assert message in run("reservations", "show", given, code=1)
