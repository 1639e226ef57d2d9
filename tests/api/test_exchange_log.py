"""The exchange log through the API: events (filters, JSON, reprocess), calendar items,
and synchronizations with their delta keys (and a read requested)."""

from __future__ import annotations

from tests.api.conftest import fail_event

THROTTLED = "ProviderThrottled: PUT /rooms/x/m1.ics answered 429"


def results(api, path, role="viewer", **query):
    answer = api.get(path, role, params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()["results"]


def test_events_are_listed_newest_first_and_filtered(synchronized):
    api = synchronized
    every = results(api, "/api/v1/events")
    assert [e["action"] for e in every] == ["respond", "respond", "read"]
    assert [e["id"] for e in every] == sorted((e["id"] for e in every), reverse=True)
    assert "payload" not in every[0]  # a list leaves the payloads out
    assert [e["action"] for e in results(api, "/api/v1/events", direction="inbound")] == ["read"]
    assert len(results(api, "/api/v1/events", direction="outbound")) == 2
    assert results(api, "/api/v1/events", direction="inbound", action="respond") == []
    assert len(results(api, "/api/v1/events", action="respond", item="Room A")) == 2
    assert results(api, "/api/v1/events", item="Room B") == []
    assert len(results(api, "/api/v1/events", status="processed")) == 3
    assert results(api, "/api/v1/events", since="2026-12-01T08:00:01Z") == []
    assert results(api, "/api/v1/events", until="2026-12-01T08:00:00Z") == []
    assert len(results(api, "/api/v1/events", since="2026-12-01T08:00:00Z")) == 3


def test_an_event_is_shown_whole_as_json(synchronized):
    api = synchronized
    read = results(api, "/api/v1/events", action="read")[0]
    shown = api.get(f"/api/v1/events/{read['id']}", "viewer").json()
    assert shown["schema"] == "calsync.event/1"
    assert shown["payload"] == {"item": "Room A", "full": False, "confirm_sweep": False}
    assert shown["provider_payload"]
    assert shown["response"]
    assert api.get("/api/v1/events/999999").status_code == 404
    assert api.get("/api/v1/events/nope").status_code == 422


def test_an_event_in_error_is_reprocessed_once(synchronized):
    api = synchronized
    failed = fail_event(api, "respond", THROTTLED)
    assert results(api, "/api/v1/events", status="error")[0]["error"] == THROTTLED
    again = api.post(f"/api/v1/events/{failed}/reprocess")
    assert again.json() == {"id": failed, "reprocessed": True}
    assert api.get(f"/api/v1/events/{failed}").json()["state"] == "new"
    assert api.post(f"/api/v1/events/{failed}/reprocess").json()["reprocessed"] is False
    assert api.post("/api/v1/events/999999/reprocess").status_code == 404


def test_many_events_are_reprocessed_by_ids_or_by_filters(synchronized):
    api = synchronized
    read = fail_event(api, "read", "ProviderUnavailable: connection refused")
    respond = fail_event(api, "respond", THROTTLED)
    by_filter = api.post("/api/v1/events/reprocess", json={"item": "Room A", "action": "read"})
    assert by_filter.json() == {"reprocessed": [read]}
    by_ids = api.post("/api/v1/events/reprocess", json={"ids": [read, respond, respond]})
    assert by_ids.json() == {"reprocessed": [respond]}  # the read was no longer in error
    assert api.post("/api/v1/events/reprocess", json={"ids": [999999]}).status_code == 404
    both = api.post("/api/v1/events/reprocess", json={"ids": [read], "item": "Room A"})
    assert both.status_code == 422
    assert "not both" in both.json()["message"]


def test_calendar_items_are_listed_filtered_and_shown_with_their_payload(synchronized):
    api = synchronized
    items = results(api, "/api/v1/calendar-items")
    assert [(i["kind"], i["status"]) for i in items] == [("new_reservation", "applied")] * 2
    assert "provider_payload" not in items[0]
    [sync] = results(api, "/api/v1/synchronizations")
    assert len(results(api, "/api/v1/calendar-items", synchronization=sync["id"])) == 2
    assert results(api, "/api/v1/calendar-items", status="failed") == []
    assert results(api, "/api/v1/calendar-items", kind="cancellation") == []
    assert results(api, "/api/v1/calendar-items", item="Room B") == []
    shown = api.get(f"/api/v1/calendar-items/{items[0]['id']}", "viewer").json()
    assert shown["schema"] == "calsync.calendar_item/1"
    assert "BEGIN:VEVENT" in shown["provider_payload"]
    assert api.get("/api/v1/calendar-items/999999").status_code == 404
    assert api.get("/api/v1/calendar-items", params={"status": "done"}).status_code == 422


def test_synchronizations_show_their_delta_keys(synchronized):
    api = synchronized
    [listed] = results(api, "/api/v1/synchronizations", item="Room A", outcome="succeeded")
    shown = api.get(f"/api/v1/synchronizations/{listed['id']}", "viewer").json()
    assert shown == listed
    assert shown["schema"] == "calsync.synchronization/1"
    assert (shown["mode"], shown["delta_key_before"]) == ("full", None)
    assert shown["delta_key_after"]
    assert shown["calendar_items_created"] == 2
    assert results(api, "/api/v1/synchronizations", outcome="failed") == []
    assert api.get("/api/v1/synchronizations/999999").status_code == 404


def test_a_synchronization_is_requested_as_a_queued_read(synchronized):
    api = synchronized
    asked = api.post("/api/v1/synchronizations", json={"item": "Room A", "full": True})
    assert asked.status_code == 202, asked.text
    event = api.get(f"/api/v1/events/{asked.json()['event_id']}").json()
    assert (event["action"], event["state"], event["payload"]["full"]) == ("read", "new", True)
    same = api.post("/api/v1/synchronizations", json={"item": "Room A", "full": True})
    assert same.json()["event_id"] == event["id"]  # a waiting read serves it
    unbound = api.post("/api/v1/synchronizations", json={"item": "Desk 1"})
    assert unbound.status_code == 409
    assert "no active calendar binding" in unbound.json()["detail"]
    assert api.post("/api/v1/synchronizations", json={"item": "Room Z"}).status_code == 404
    assert api.post("/api/v1/synchronizations", json={}).status_code == 422


def test_records_have_every_key_of_the_json_exports(synchronized):
    from calsync.exports import (
        calendar_item_json,
        event_json,
        reservation_json,
        synchronization_json,
    )
    from calsync.sync import reservations as reservation_service

    api = synchronized
    reservation = reservation_service.create(
        api.services, "Desk 1", *_hour_on_the_ninth(), "Export"
    )
    with api.services.read() as uow:
        event = uow.events.get(results(api, "/api/v1/events")[0]["id"])
        item = uow.calendar_items.get(results(api, "/api/v1/calendar-items")[0]["id"])
        sync = uow.synchronizations.get(results(api, "/api/v1/synchronizations")[0]["id"])
        exported = {
            f"/api/v1/events/{event.id}": event_json(event, "Room A"),
            f"/api/v1/calendar-items/{item.id}": calendar_item_json(item, "Room A"),
            f"/api/v1/synchronizations/{sync.id}": synchronization_json(sync, "Room A"),
            f"/api/v1/reservations/{reservation.id}": reservation_json(reservation),
        }
    for path, export in exported.items():
        assert api.get(path).json() == export, path


def _hour_on_the_ninth():
    from datetime import UTC, datetime

    return datetime(2026, 12, 9, 9, tzinfo=UTC), datetime(2026, 12, 9, 10, tzinfo=UTC)
