"""Review: `calsync approvals` given a reservation's id that is all digits."""

from __future__ import annotations

import json

from calsync.sync import apply
from tests.cli.test_approvals import calsync  # noqa: F401  (the fixture)
from tests.sync.calendars import book


def test_a_reservation_id_part_all_digits_decides_that_reservations_approval(
    calsync,  # noqa: F811
    monkeypatch,
):
    """The help says: "Approval ids, or the ids of reservations waiting (or a unique
    part)", and the notification's command and the tests give the id's last 8 characters.
    About 1 in 43 reservation ids ends in 8 decimal digits; such a part is taken for an
    approval id, and another booking's approval is decided."""
    suffixes = iter([2, 1])
    monkeypatch.setattr(
        apply,
        "reservation_ids",
        lambda: lambda: f"01900000-0000-7000-8000-{next(suffixes):012d}",
    )
    book(calsync.organizer, calsync.calendar, "m1", 3)
    book(calsync.organizer, calsync.calendar, "m2", 4)
    calsync("sync")
    waiting = json.loads(calsync("approvals", "list", "--json"))
    target = next(a for a in waiting if int(a["reservation_id"][-8:]) != a["id"])
    part = target["reservation_id"][-8:]
    out = calsync("approvals", "approve", part, "--as", "anna@example.com", code=1)
    assert f"{part!r} is approval" in out
    assert "give more characters" in out
    still = json.loads(calsync("approvals", "list", "--json"))
    assert len(still) == len(waiting)  # nothing decided
    out = calsync(
        "approvals", "approve", target["reservation_id"], "--as", "anna@example.com", "--json"
    )
    [decided] = json.loads(out)
    assert decided["reservation_id"] == target["reservation_id"]
