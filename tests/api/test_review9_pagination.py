"""Review: README, "API": "pages follow a unique indexed order, so rows written while a
client pages neither repeat nor hide others". Inserted rows hold to it (keyset cursors);
a reservation moved meanwhile does not: its key (its start) changes, so a move past the
cursor shows it twice and a move before the cursor hides it. Holding the promise for
moves needs a snapshot (or an immutable key) per walk: left as a strict expected failure."""

from __future__ import annotations

import pytest


def walk(api, moved: str, start: str, end: str) -> list[str]:
    """The subjects of every page (one row each); `moved` is moved once the first page
    was read."""
    seen, cursor = [], None
    while True:
        query = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/reservations", "integration", params=query).json()
        seen.extend(r["subject"] for r in page["results"])
        if len(seen) == 1:
            move = {"start": start, "end": end}
            api.patch(f"/api/v1/reservations/{ids[moved]}", "integration", json=move)
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


ids: dict[str, str] = {}


def test_inserted_rows_neither_repeat_nor_hide_others(api):
    for subject, hour in (("nine", 9), ("ten", 10), ("eleven", 11)):
        body = {"item": "Desk 1", "start": f"2026-12-05T{hour:02}:00:00Z",
                "end": f"2026-12-05T{hour:02}:30:00Z", "subject": subject}  # fmt: skip
        ids[subject] = api.post("/api/v1/reservations", "integration", json=body).json()["id"]
    first = api.get("/api/v1/reservations", "integration", params={"limit": 1}).json()
    late = {"item": "Desk 1", "start": "2026-12-05T12:00:00Z", "end": "2026-12-05T12:30:00Z",
            "subject": "twelve"}  # fmt: skip
    api.post("/api/v1/reservations", "integration", json=late)
    seen = [r["subject"] for r in first["results"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get("/api/v1/reservations", "integration",
                       params={"limit": 1, "cursor": cursor}).json()  # fmt: skip
        seen.extend(r["subject"] for r in page["results"])
        cursor = page["next_cursor"]
    assert seen == ["nine", "ten", "eleven", "twelve"]


@pytest.mark.xfail(strict=True, reason="a reservation moved while a client pages repeats or "
                   "hides: the keyset (start, id) changes with the move; README promises "
                   "'rows written' neither repeat nor hide")  # fmt: skip
def test_a_reservation_moved_while_a_client_pages_shows_once(api):
    for subject, hour in (("nine", 9), ("ten", 10), ("eleven", 11)):
        body = {"item": "Desk 1", "start": f"2026-12-05T{hour:02}:00:00Z",
                "end": f"2026-12-05T{hour:02}:30:00Z", "subject": subject}  # fmt: skip
        ids[subject] = api.post("/api/v1/reservations", "integration", json=body).json()["id"]
    seen = walk(api, "nine", "2026-12-05T13:00:00Z", "2026-12-05T13:30:00Z")
    assert sorted(seen) == ["eleven", "nine", "ten"]
