"""`/api/v1/reservations`: made, moved and cancelled through the outbox like the command
line's; refused with the rule's name or as a double booking; bad input is a 422 that
says which field is wrong."""

from __future__ import annotations

from calsync.store.records import RecordFilter

NINE = "2026-12-05T09:00:00Z"
TEN = "2026-12-05T10:00:00Z"
ELEVEN = "2026-12-05T11:00:00Z"


def reserve(api, start=NINE, end=TEN, item="Room A", role="integration", **more):
    body = {"item": item, "start": start, "end": end, "subject": "Standup", **more}
    return api.post("/api/v1/reservations", role, json=body)


def outbound(api):
    with api.services.read() as uow:
        return sorted(
            (e.action, e.reservation_id) for e in uow.events.find(RecordFilter(limit=100))
        )


def test_a_reservation_made_through_the_api_reaches_the_outbox(api):
    made = reserve(api, organizer="Ann@Example.com")
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["schema"] == "calsync.reservation/1"
    assert (created["item"], created["status"], created["origin"]) == (
        "Room A",
        "confirmed",
        "workplace",
    )
    assert created["organizer"] == "ann@example.com"
    assert outbound(api) == [("create", created["id"])]
    shown = api.get(f"/api/v1/reservations/{created['id']}", "viewer")
    assert shown.json() == created


def test_a_reservation_is_moved_renamed_and_cancelled(api):
    made = reserve(api).json()
    moved = api.patch(
        f"/api/v1/reservations/{made['id']}", "integration", json={"end": ELEVEN, "subject": "Long"}
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["end"], moved.json()["subject"]) == ("2026-12-05T11:00:00+00:00", "Long")
    cancelled = api.post(f"/api/v1/reservations/{made['id']}/cancel", "integration",
                         json={"reason": "no longer needed"})  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["reason"]) == (
        "cancelled",
        "no longer needed",
    )
    again = api.post(f"/api/v1/reservations/{made['id']}/cancel", "integration")
    assert again.json()["status"] == "cancelled"
    revived = api.patch(f"/api/v1/reservations/{made['id']}", "integration", json={"subject": "x"})
    assert revived.status_code == 409
    assert "is cancelled" in revived.json()["detail"]
    assert [action for action, _ in outbound(api)] == ["create", "delete", "update"]


def test_a_reservation_of_an_unbound_item_is_kept_without_an_event(api):
    made = reserve(api, item="Desk 1")
    assert made.status_code == 201, made.text
    assert outbound(api) == []


def test_a_double_booking_and_a_policy_refusal_are_conflicts(api):
    assert reserve(api).status_code == 201
    clash = reserve(api, start="2026-12-05T09:30:00Z", end=ELEVEN)
    assert clash.status_code == 409
    assert clash.json()["rule"] == "conflict"
    assert "overlaps reservation" in clash.json()["detail"]
    too_far = reserve(api, start="2028-12-05T09:00:00Z", end="2028-12-05T10:00:00Z")
    assert too_far.status_code == 409
    assert too_far.json()["rule"] == "booking_window"


def test_the_list_filters_by_item_status_and_time(api):
    first = reserve(api).json()
    reserve(api, item="Room B")
    later = reserve(api, start="2026-12-07T09:00:00Z", end="2026-12-07T10:00:00Z").json()
    api.post(f"/api/v1/reservations/{first['id']}/cancel", "integration")

    def ids(**query):
        found = api.get("/api/v1/reservations", "viewer", params=query)
        assert found.status_code == 200, found.text
        return [r["id"] for r in found.json()["results"]]

    assert len(ids()) == 3
    assert ids(item="Room A", status="confirmed") == [later["id"]]
    assert ids(item="Room A", start="2026-12-06T00:00:00Z") == [later["id"]]
    assert ids(item="Room A", end="2026-12-06T00:00:00Z") == [first["id"]]


def test_bad_input_is_a_422_naming_the_field(api):
    cases = [
        ({"item": "Room A", "start": NINE}, "body.end: Field required"),
        ({"item": "Room A", "start": "2026-12-05T09:00:00", "end": TEN}, "body.start"),
        ({"item": "Room A", "start": TEN, "end": NINE}, "end must be after start"),
        ({"item": "Room A", "start": "tomorrow", "end": TEN}, "body.start"),
        ({"item": "", "start": NINE, "end": TEN}, "body.item"),
    ]
    for body, message in cases:
        answer = api.post("/api/v1/reservations", "integration", json=body)
        assert answer.status_code == 422, body
        assert message in answer.json()["message"], answer.json()
    wrong_status = api.get("/api/v1/reservations", params={"status": "maybe"})
    assert wrong_status.status_code == 422
    assert "query.status" in wrong_status.json()["message"]
    empty_change = api.patch("/api/v1/reservations/x", "integration", json={})
    assert "give at least one of start, end, subject" in empty_change.json()["message"]


def test_unknown_reservations_and_items_are_404(api):
    assert api.get("/api/v1/reservations/0190-missing").status_code == 404
    assert reserve(api, item="Room Z").status_code == 404
    assert api.get("/api/v1/reservations", params={"item": "Room Z"}).status_code == 404
    moved = api.patch("/api/v1/reservations/nope", "integration", json={"subject": "x"})
    assert moved.status_code == 404
    assert api.post("/api/v1/reservations/nope/cancel", "integration").status_code == 404
