"""Workplace items with their synchronization state, connections (list, health, test),
/healthz, /metrics and the OpenAPI document."""

from __future__ import annotations

from tests.api.conftest import fail_event


def test_items_show_their_binding_and_where_their_synchronization_stands(synchronized):
    api = synchronized
    listed = api.get("/api/v1/workplace-items", "integration").json()["results"]
    assert [i["name"] for i in listed] == ["Room A", "Room B", "Desk 1"]
    room = api.get("/api/v1/workplace-items/Room A", "viewer").json()
    assert room == listed[0]
    assert room["binding"]["connection"] == "dav"
    assert room["binding"]["calendar"] == api.calendar
    state = room["synchronization"]
    assert state["delta_key"]
    assert state["last"]["outcome"] == "succeeded"
    assert state["last_succeeded_at"] is not None
    assert (state["events_waiting"], state["events_in_error"]) == (0, 0)
    assert listed[1]["synchronization"]["last"] is None
    assert listed[2]["binding"] is None
    assert api.get("/api/v1/workplace-items/Room Z").status_code == 404


def test_connections_are_listed_by_how_they_authenticate(api):
    listed = api.get("/api/v1/connections", "viewer").json()["results"]
    assert [(c["name"], c["kind"], c["authentication"], c["items"]) for c in listed] == [
        ("bearer", "caldav", "bearer", ["Room B"]),
        ("dav", "caldav", "basic", ["Room A"]),
    ]
    assert api.get("/api/v1/connections/dav").json() == listed[1]
    first = api.get("/api/v1/connections", params={"limit": 1}).json()
    second = api.get("/api/v1/connections", params={"cursor": first["next_cursor"]}).json()
    assert first["results"] + second["results"] == listed
    assert second["next_cursor"] is None
    assert api.get("/api/v1/connections/nope").status_code == 404


def test_a_connections_health_follows_its_items_synchronizations(synchronized):
    api = synchronized
    health = api.get("/api/v1/connections/dav/health", "viewer").json()
    assert health["status"] == "ok"
    [room] = health["items"]
    assert (room["item"], room["last_outcome"], room["lag_seconds"]) == ("Room A", "succeeded", 0)
    fail_event(api, "respond", "ProviderThrottled: PUT answered 429")
    failing = api.get("/api/v1/connections/dav/health").json()
    assert failing["status"] == "failing"
    assert failing["items"][0]["provider_errors"] == {"ProviderThrottled": 1}
    assert api.get("/api/v1/connections/bearer/health").json()["status"] == "unknown"
    assert api.get("/api/v1/connections/nope/health").status_code == 404


def test_a_connection_test_proves_each_bound_calendar(api):
    tested = api.post("/api/v1/connections/dav/test")
    assert tested.status_code == 200, tested.text
    body = tested.json()
    assert (body["connection"], body["ok"]) == ("dav", True)
    assert [(c["item"], c["ok"], c["delta_keys"]) for c in body["calendars"]] == [
        ("Room A", True, True)
    ]
    assert api.post("/api/v1/connections/nope/test").status_code == 404


def test_healthz_answers_without_a_token(api):
    answer = api.client.get("/healthz")
    assert (answer.status_code, answer.json()["status"]) == (200, "ok")


def test_healthz_says_503_when_the_database_is_gone(api, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def broken():
        raise OperationalError("SELECT 1", {}, Exception("gone"))

    monkeypatch.setattr(api.services, "reads", broken)
    assert api.client.get("/healthz").status_code == 503


def test_metrics_count_the_exchange_log_and_the_synchronizations(synchronized):
    api = synchronized
    fail_event(api, "respond", "ProviderThrottled: PUT answered 429")
    api.post("/api/v1/synchronizations", json={"item": "Room A"})
    answer = api.get("/metrics", "viewer")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    lines = set(answer.text.splitlines())
    for expected in (
        'calsync_events{state="processed"} 2.0',
        'calsync_events{state="new"} 1.0',
        'calsync_events{state="error"} 1.0',
        'calsync_calendar_items{status="applied"} 2.0',
        'calsync_queue_depth{scope="due"} 1.0',
        'calsync_queue_depth{scope="waiting"} 1.0',
        'calsync_synchronization_lag_seconds{item="Room A"} 0.0',
        'calsync_synchronization_duration_seconds{item="Room A"} 0.0',
        'calsync_provider_errors{connection="dav",error="ProviderThrottled"} 1.0',
        'calsync_provider_throttled{connection="dav"} 1.0',
        'calsync_provider_throttled{connection="bearer"} 0.0',
    ):
        assert expected in lines, answer.text
    api.services.clock.advance(minutes=5)
    later = api.get("/metrics").text
    assert 'calsync_synchronization_lag_seconds{item="Room A"} 300.0' in later


def test_the_openapi_document_names_every_route_and_the_bearer_scheme(api):
    document = api.client.get("/openapi.json").json()
    paths = set(document["paths"])
    for path in (
        "/api/v1/workplace-items",
        "/api/v1/reservations/{reservation_id}/cancel",
        "/api/v1/events/reprocess",
        "/api/v1/calendar-items/{calendar_item_id}",
        "/api/v1/synchronizations",
        "/api/v1/connections/{name}/health",
        "/healthz",
        "/metrics",
    ):
        assert path in paths
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert api.client.get("/docs").status_code == 200
