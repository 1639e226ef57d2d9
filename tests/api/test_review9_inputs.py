"""Review: input the store cannot hold is bad input (422), never a 500: a NUL character
in any text (PostgreSQL text refuses it), a lone surrogate (no UTF-8 encodes it), a time
whose offset puts it outside years 1..9999 in UTC (the store keeps UTC)."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

YEAR_ONE = "0001-01-01T00:00:00+14:00"
YEAR_LAST = "9999-12-31T23:00:00-14:00"


def cursor(name, key):
    return base64.urlsafe_b64encode(json.dumps([name, key]).encode()).decode().rstrip("=")


def booking(**more):
    return {"item": "Room A", "start": "2026-12-05T09:00:00Z", "end": "2026-12-05T10:00:00Z",
            **more}  # fmt: skip


GETS = [
    "/api/v1/reservations?item=%00",
    "/api/v1/workplace-items/a%00b",
    "/api/v1/reservations/a%00b",
    "/api/v1/events?item=%00",
    "/api/v1/reservations?start=" + YEAR_ONE.replace("+", "%2B"),
    "/api/v1/reservations?end=" + YEAR_LAST,
    "/api/v1/events?since=" + YEAR_ONE.replace("+", "%2B"),
    "/api/v1/calendar-items?until=" + YEAR_LAST,
    "/api/v1/synchronizations?since=" + YEAR_ONE.replace("+", "%2B"),
    "/api/v1/reservations?cursor=" + cursor("reservations", [YEAR_ONE, "x"]),
    "/api/v1/reservations?cursor=" + cursor("reservations", ["2026-12-05T09:00:00+00:00", "\0"]),
]
POSTS = [
    ("/api/v1/reservations", booking(item="Room A\0")),
    ("/api/v1/reservations", booking(subject="a\0b")),
    ("/api/v1/reservations", booking(organizer="a\0b@example.com")),
    ("/api/v1/reservations", booking(subject="\ud800")),
    ("/api/v1/reservations", booking(start=YEAR_ONE, end="0001-01-01T01:00:00+14:00")),
    ("/api/v1/reservations", booking(start=YEAR_LAST, end="9999-12-31T23:30:00-14:00")),
    ("/api/v1/events/reprocess", {"item": "a\0"}),
    ("/api/v1/events/reprocess", {"since": YEAR_ONE}),
    ("/api/v1/synchronizations", {"item": "a\0"}),
]


@pytest.fixture
def client(api):
    return TestClient(api.app, raise_server_exceptions=False)


@pytest.mark.parametrize("path", GETS)
def test_a_query_the_store_cannot_hold_is_refused_not_a_500(api, client, path):
    answer = client.get(path, headers=api.headers("admin"))
    assert answer.status_code < 500, (answer.status_code, answer.text)  # SQLite keeps a NUL


@pytest.mark.parametrize(("path", "body"), POSTS)
def test_a_body_the_store_cannot_hold_is_refused_not_a_500(api, client, path, body):
    answer = client.post(
        path,
        content=json.dumps(body),
        headers={**api.headers("admin"), "Content-Type": "application/json"},
    )
    assert answer.status_code < 500, (answer.status_code, answer.text)  # SQLite keeps a NUL


def test_a_patch_with_a_nul_or_a_time_out_of_range_is_refused(api, client):
    made = client.post("/api/v1/reservations", json=booking(), headers=api.headers("admin"))
    assert made.status_code == 201
    path = f"/api/v1/reservations/{made.json()['id']}"
    for change in ({"subject": "a\0"}, {"start": YEAR_ONE}, {"subject": "\ud800"}):
        answer = client.patch(
            path,
            content=json.dumps(change),
            headers={**api.headers("admin"), "Content-Type": "application/json"},
        )
        assert answer.status_code in (200, 422), (change, answer.status_code, answer.text)
        if "\0" not in change.get("subject", ""):
            assert answer.status_code == 422


@pytest.mark.parametrize(
    "field",
    [
        {"subject": "x" * 100_000},
        {"organizer": "x" * 100_000 + "@example.com"},
        {"item": "x" * 100_000},
    ],
)
def test_a_reservation_text_of_megabytes_is_refused(api, client, field):
    """A subject had no bound: each one stored, sent to the calendar and repeated in
    every list page (fifty 2 MB subjects: a 100 MB page)."""
    answer = client.post(
        "/api/v1/reservations", json=booking(**field), headers=api.headers("integration")
    )
    assert answer.status_code == 422, (answer.status_code, answer.text[:200])
    [wrong] = answer.json()["detail"]
    assert wrong["loc"][-1] == next(iter(field))


def test_a_change_of_subject_of_megabytes_is_refused(api, client):
    made = client.post("/api/v1/reservations", json=booking(), headers=api.headers("admin"))
    answer = client.patch(
        f"/api/v1/reservations/{made.json()['id']}",
        json={"subject": "x" * 100_000},
        headers=api.headers("admin"),
    )
    assert answer.status_code == 422


def test_a_body_of_megabytes_is_refused_before_it_is_read_whole(api, client):
    """No route takes more than a few kilobytes (a thousand ids to reprocess: 12 kB); a
    body of any size was read whole and parsed, before the token was even looked at."""
    body = b'{"ids": [' + b"1," * 2_500_000 + b"1]}"
    for role in ("admin", None):
        answer = client.post(
            "/api/v1/events/reprocess",
            content=body,
            headers={**api.headers(role), "Content-Type": "application/json"},
        )
        assert answer.status_code == 413, (answer.status_code, answer.text[:200])


def test_an_organizer_with_a_line_break_is_refused_not_left_to_fail_in_the_worker(api, client):
    """Accepted before (201), the booking's create event then failed on every attempt
    ("A CAL-ADDRESS value may not contain CR or LF characters"): the room was held in
    calsync and never in its calendar."""
    answer = client.post(
        "/api/v1/reservations",
        json=booking(organizer="ann@example.com\r\nX-EVIL:1"),
        headers=api.headers("integration"),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "organizer"]


@pytest.mark.parametrize("subject", ["bell\x07", "nul\x00", "escape\x1b[31m"])
def test_a_subject_with_control_characters_is_refused_naming_the_field(api, client, subject):
    answer = client.post(
        "/api/v1/reservations", json=booking(subject=subject), headers=api.headers("integration")
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "subject"]


def nested(depth: int) -> str:
    text = "[" * depth + "]" * depth
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/reservations", "/api/v1/connections"])
def test_a_cursor_of_deeply_nested_json_is_refused_not_a_500(api, client, path):
    """A 5 kB cursor of nested brackets made json.loads raise RecursionError: a 500."""
    answer = client.get(path, params={"cursor": nested(2000)}, headers=api.headers("admin"))
    assert answer.status_code == 422, (answer.status_code, answer.text[:200])
