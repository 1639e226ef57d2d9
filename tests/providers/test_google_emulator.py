"""The Google Calendar emulator speaks the wire protocol of shared/PROVIDERS.md §1, checked
with plain httpx: tokens, full and incremental rounds, writes with If-Match, instances,
faults, push channels and a room that decides for itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.providers.google_emulator import GoogleCalendarEmulator, service_account_assertion
from tests.providers.google_emulator.keys import load_private_key, sign_jwt

pytestmark = pytest.mark.timeout(30)
ROOM = "room-1@resource.calendar.google.com"
EVENTS = f"/calendars/{ROOM.replace('@', '%40')}/events"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
BERLIN = "Europe/Berlin"
#: Plain http on 127.0.0.1: skip loading the CA bundle for a TLS context never used (~70 ms).
PLAIN = {"verify": False}


@pytest.fixture
def google() -> Iterator[GoogleCalendarEmulator]:
    with GoogleCalendarEmulator() as emulator:
        emulator.add_calendar(ROOM, time_zone=BERLIN, summary="Room 1")
        yield emulator


def access_token(
    google: GoogleCalendarEmulator, client: httpx.Client, subject: str = "admin@example.com"
) -> str:
    info = google.service_account_info("example.com")
    assertion = service_account_assertion(info, subject=subject)
    answer = client.post(google.token_uri, data={"grant_type": JWT_BEARER, "assertion": assertion})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture
def api(google: GoogleCalendarEmulator) -> Iterator[httpx.Client]:
    """A client of the emulator's API with a bearer token for admin@example.com."""
    with httpx.Client(base_url=google.api_url, **PLAIN) as client:
        client.headers["Authorization"] = f"Bearer {access_token(google, client)}"
        yield client


def timed(day: int, hour: int, minutes: int = 60, **fields: Any) -> dict[str, Any]:
    start = f"2026-03-{day:02d}T{hour:02d}:00:00+01:00"
    end_hour, end_minute = divmod(hour * 60 + minutes, 60)
    end = f"2026-03-{day:02d}T{end_hour:02d}:{end_minute:02d}:00+01:00"
    return {
        "start": {"dateTime": start, "timeZone": BERLIN},
        "end": {"dateTime": end, "timeZone": BERLIN},
        **fields,
    }


def weekly(count: int = 4, **fields: Any) -> dict[str, Any]:
    return timed(16, 9, recurrence=[f"RRULE:FREQ=WEEKLY;COUNT={count}"], **fields)


def reason(answer: httpx.Response) -> str:
    return str(answer.json()["error"]["errors"][0]["reason"])


def full_round(api: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Page through one listing; returns its items and the nextSyncToken of its last page."""
    items, page_token = [], None
    while True:
        query = {**params, **({"pageToken": page_token} if page_token else {})}
        answer = api.get(EVENTS, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        page_token = body.get("nextPageToken")
        if page_token is None:
            return items, body["nextSyncToken"]
        assert "nextSyncToken" not in body


# Tokens


def test_a_signed_service_account_assertion_buys_a_bearer_token_for_the_subject(google, api):
    answer = api.get(EVENTS)

    assert answer.status_code == 200
    assert google.token_requests == 1
    assert google.token_subjects == ["admin@example.com"]


def test_google_auth_credentials_get_a_token_from_the_key_file():
    service_account = pytest.importorskip("google.oauth2.service_account")
    transport = pytest.importorskip("google.auth.transport.requests")
    with GoogleCalendarEmulator() as google:
        credentials = service_account.Credentials.from_service_account_info(
            google.service_account_info("example.com"),
            scopes=["https://www.googleapis.com/auth/calendar"],
            subject="admin@example.com",
        )
        credentials.refresh(transport.Request())
        assert credentials.token
        assert google.token_subjects == ["admin@example.com"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda claims: claims.update(aud="https://elsewhere/token"), "invalid_grant"),
        (lambda claims: claims.update(exp=claims["iat"] - 10), "invalid_grant"),
        (
            lambda claims: claims.update(scope="https://www.googleapis.com/auth/drive"),
            "invalid_scope",
        ),
        (lambda claims: claims.update(sub="eve@elsewhere.org"), "unauthorized_client"),
    ],
)
def test_a_token_request_with_a_bad_claim_is_refused(google, change, error):
    info = google.service_account_info("example.com")
    now = int(time.time())
    claims = {
        "iss": info["client_email"],
        "aud": info["token_uri"],
        "scope": "https://www.googleapis.com/auth/calendar",
        "iat": now,
        "exp": now + 3600,
    }
    change(claims)
    assertion = sign_jwt(load_private_key(info["private_key"]), claims, info["private_key_id"])

    answer = httpx.post(
        google.token_uri, data={"grant_type": JWT_BEARER, "assertion": assertion}, **PLAIN
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == error


def test_an_assertion_signed_with_another_key_is_an_invalid_grant(google):
    info = google.service_account_info()
    forged = service_account_assertion(info)
    header, claims, signature = forged.split(".")
    tampered = f"{header}.{claims}.{signature[:-4]}AAAA"

    answer = httpx.post(
        google.token_uri, data={"grant_type": JWT_BEARER, "assertion": tampered}, **PLAIN
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_revoked_tokens_and_missing_ones_get_a_401_auth_error(google, api):
    assert api.get(EVENTS).status_code == 200
    google.revoke_tokens()

    revoked = api.get(EVENTS)
    anonymous = httpx.get(google.api_url + EVENTS, **PLAIN)

    for answer in (revoked, anonymous):
        assert answer.status_code == 401
        error = answer.json()["error"]
        assert error["errors"][0] == {
            "domain": "global",
            "reason": "authError",
            "message": "Invalid Credentials",
            "location": "Authorization",
            "locationType": "header",
        }


def test_failed_token_requests_answer_the_oauth_error_then_recover(google):
    google.fail_token_requests(1, error="invalid_grant", description="Account disabled")
    info = google.service_account_info()
    form = {"grant_type": JWT_BEARER, "assertion": service_account_assertion(info)}

    with httpx.Client(**PLAIN) as http:
        first, second = (
            http.post(google.token_uri, data=form),
            http.post(google.token_uri, data=form),
        )

    assert (first.status_code, first.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "Account disabled"},
    )
    assert second.status_code == 200
    assert google.token_requests == 2


# Full and incremental rounds


def test_a_full_round_pages_and_only_its_last_page_carries_the_sync_token(google, api):
    for n in range(5):
        google.put_event(ROOM, timed(16 + n, 9, summary=f"meeting {n}"))

    first = api.get(EVENTS, params={"maxResults": 2}).json()
    items, sync_token = full_round(api, maxResults=2)

    assert "nextPageToken" in first
    assert "nextSyncToken" not in first
    assert sorted(i["summary"] for i in items) == [f"meeting {n}" for n in range(5)]
    assert sync_token
    assert first["kind"] == "calendar#events"
    assert first["timeZone"] == BERLIN


def test_an_incremental_round_returns_changes_and_deletions_since_the_token(google, api):
    kept = google.put_event(ROOM, timed(16, 9, summary="kept"))
    moved = google.put_event(ROOM, timed(17, 9, summary="moved"))
    gone = google.put_event(ROOM, timed(18, 9, summary="gone"))
    _, token = full_round(api)

    google.patch_event(ROOM, moved["id"], timed(17, 11))
    assert api.delete(f"{EVENTS}/{gone['id']}").status_code == 204
    items, next_token = full_round(api, syncToken=token)

    by_id = {i["id"]: i for i in items}
    assert set(by_id) == {moved["id"], gone["id"]}
    assert kept["id"] not in by_id
    assert by_id[moved["id"]]["start"]["dateTime"] == "2026-03-17T11:00:00+01:00"
    assert by_id[gone["id"]]["status"] == "cancelled"
    assert full_round(api, syncToken=next_token)[0] == []


def test_a_full_listing_shows_live_events_only_unless_show_deleted(google, api):
    live = google.put_event(ROOM, timed(16, 9))
    gone = google.put_event(ROOM, timed(17, 9))
    google.delete_event(ROOM, gone["id"])

    plain, _ = full_round(api)
    with_deleted, _ = full_round(api, showDeleted="true")

    assert [i["id"] for i in plain] == [live["id"]]
    assert {i["id"]: i["status"] for i in with_deleted} == {
        live["id"]: "confirmed",
        gone["id"]: "cancelled",
    }


def test_a_change_made_while_paging_comes_in_the_next_round(google, api):
    ids = [google.put_event(ROOM, timed(16 + n, 9))["id"] for n in range(4)]
    first = api.get(EVENTS, params={"maxResults": 2}).json()

    google.patch_event(ROOM, ids[3], {"summary": "renamed meanwhile"})
    rest = api.get(EVENTS, params={"maxResults": 2, "pageToken": first["nextPageToken"]}).json()
    later, _ = full_round(api, syncToken=rest["nextSyncToken"])

    assert len(first["items"] + rest["items"]) == 4
    assert [(i["id"], i["summary"]) for i in later] == [(ids[3], "renamed meanwhile")]


def test_expired_and_garbled_sync_tokens_answer_410_full_sync_required(google, api):
    google.put_event(ROOM, timed(16, 9))
    _, token = full_round(api)

    google.expire_sync_tokens(ROOM)
    expired = api.get(EVENTS, params={"syncToken": token})
    garbled = api.get(EVENTS, params={"syncToken": "not-a-token"})
    _, fresh = full_round(api)

    for answer in (expired, garbled):
        assert answer.status_code == 410
        assert answer.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"
        assert answer.json()["error"]["message"] == (
            "Sync token is no longer valid, a full sync is required."
        )
    assert api.get(EVENTS, params={"syncToken": fresh}).status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("iCalUID", "x@google.com"),
        ("orderBy", "updated"),
        ("privateExtendedProperty", "a=b"),
        ("q", "room"),
        ("sharedExtendedProperty", "a=b"),
        ("timeMin", "2026-01-01T00:00:00Z"),
        ("timeMax", "2027-01-01T00:00:00Z"),
        ("updatedMin", "2026-01-01T00:00:00Z"),
    ],
)
def test_parameters_forbidden_with_a_sync_token_are_a_400(google, api, name, value):
    _, token = full_round(api)

    answer = api.get(EVENTS, params={"syncToken": token, name: value})

    assert answer.status_code == 400
    assert reason(answer) == "invalid"


def test_a_sync_token_from_another_single_events_choice_is_a_400(google, api):
    _, token = full_round(api, singleEvents="true")

    answer = api.get(EVENTS, params={"syncToken": token})

    assert answer.status_code == 400
    assert reason(answer) == "invalid"


def test_filters_of_a_full_listing(google, api):
    tagged = google.put_event(
        ROOM,
        timed(16, 9, summary="Board meeting", extendedProperties={"private": {"calsync": "r1"}}),
    )
    google.put_event(ROOM, timed(20, 9, summary="Lunch"))

    def ids(**params: Any) -> list[str]:
        return [i["id"] for i in full_round(api, **params)[0]]

    assert ids(q="board") == [tagged["id"]]
    assert ids(privateExtendedProperty="calsync=r1") == [tagged["id"]]
    assert ids(iCalUID=tagged["iCalUID"]) == [tagged["id"]]
    assert ids(timeMin="2026-03-16T09:30:00+01:00", timeMax="2026-03-17T00:00:00+01:00") == [
        tagged["id"]
    ]


def test_unknown_calendars_and_parameters_are_refused(google, api):
    assert api.get("/calendars/nobody%40example.com/events").status_code == 404
    assert api.get(EVENTS, params={"synctoken": "x"}).status_code == 400


# Writes


def test_insert_with_an_existing_id_is_a_409_duplicate_even_after_delete(google, api):
    body = timed(16, 9, id="ca1e0001", summary="booked")
    created = api.post(EVENTS, json=body, params={"sendUpdates": "none"})
    assert created.status_code == 200
    assert created.json()["iCalUID"] == "ca1e0001@google.com"

    again = api.post(EVENTS, json=body)
    api.delete(f"{EVENTS}/ca1e0001")
    after_delete = api.post(EVENTS, json=body)

    for answer in (again, after_delete):
        assert answer.status_code == 409
        assert reason(answer) == "duplicate"
        assert answer.json()["error"]["message"] == "The requested identifier already exists."


@pytest.mark.parametrize("bad_id", ["UPPER12345", "abc", "with_underscore", "wxyz12345"])
def test_a_client_id_outside_base32hex_is_a_400(google, api, bad_id):
    answer = api.post(EVENTS, json=timed(16, 9, id=bad_id))

    assert answer.status_code == 400
    assert reason(answer) == "invalid"


def test_bad_times_are_refused_on_insert(google, api):
    backwards = timed(16, 9)
    backwards["end"] = {"dateTime": "2026-03-16T08:00:00+01:00", "timeZone": BERLIN}
    series_without_zone = {
        "start": {"dateTime": "2026-03-16T09:00:00+01:00"},
        "end": {"dateTime": "2026-03-16T10:00:00+01:00"},
        "recurrence": ["RRULE:FREQ=DAILY"],
    }

    assert reason(api.post(EVENTS, json=backwards)) == "timeRangeEmpty"
    assert api.post(EVENTS, json=series_without_zone).status_code == 400


def test_patch_and_delete_with_a_stale_if_match_are_a_412(google, api):
    created = api.post(EVENTS, json=timed(16, 9)).json()
    updated = api.patch(f"{EVENTS}/{created['id']}", json={"summary": "new"}).json()
    assert updated["etag"] != created["etag"]

    stale = {"If-Match": created["etag"]}
    patch = api.patch(f"{EVENTS}/{created['id']}", json={"summary": "x"}, headers=stale)
    delete = api.delete(f"{EVENTS}/{created['id']}", headers=stale)
    fresh = api.patch(
        f"{EVENTS}/{created['id']}", json={"summary": "y"}, headers={"If-Match": updated["etag"]}
    )

    for answer in (patch, delete):
        assert answer.status_code == 412
        assert answer.json()["error"]["errors"][0] == {
            "domain": "global",
            "reason": "conditionNotMet",
            "message": "Precondition Failed",
            "location": "If-Match",
            "locationType": "header",
        }
    assert fresh.status_code == 200


def test_writes_to_a_deleted_event_are_410_deleted_and_unknown_ones_404(google, api):
    created = api.post(EVENTS, json=timed(16, 9)).json()
    assert api.delete(f"{EVENTS}/{created['id']}").status_code == 204

    for answer in (
        api.patch(f"{EVENTS}/{created['id']}", json={"summary": "x"}),
        api.delete(f"{EVENTS}/{created['id']}"),
    ):
        assert answer.status_code == 410
        assert reason(answer) == "deleted"
    assert api.get(f"{EVENTS}/{created['id']}").json()["status"] == "cancelled"
    assert reason(api.delete(f"{EVENTS}/nosuchevent1")) == "notFound"


def test_sequence_grows_with_the_time_but_not_with_an_answer(google, api):
    room = {"email": ROOM, "resource": True}
    created = api.post(EVENTS, json=timed(16, 9, attendees=[room])).json()
    answered = api.patch(
        f"{EVENTS}/{created['id']}", json={"attendees": [{**room, "responseStatus": "accepted"}]}
    ).json()
    moved = api.patch(f"{EVENTS}/{created['id']}", json=timed(16, 10)).json()

    assert (created["sequence"], answered["sequence"], moved["sequence"]) == (0, 0, 1)
    assert answered["attendees"][0]["self"] is True


# Recurring events


def test_single_events_expands_a_series_into_instances_with_google_ids(google, api):
    master = api.post(EVENTS, json=weekly(count=3)).json()

    items, _ = full_round(api, singleEvents="true", orderBy="startTime")
    plain, _ = full_round(api)

    assert [i["id"] for i in items] == [
        f"{master['id']}_20260316T080000Z",
        f"{master['id']}_20260323T080000Z",
        f"{master['id']}_20260330T070000Z",  # summer time: 09:00 Berlin is 07:00 UTC
    ]
    assert all(i["recurringEventId"] == master["id"] for i in items)
    assert items[2]["originalStartTime"] == {
        "dateTime": "2026-03-30T09:00:00+02:00",
        "timeZone": BERLIN,
    }
    assert [i["id"] for i in plain] == [master["id"]]


def test_all_day_instances_are_named_by_date(google, api):
    body = {
        "start": {"date": "2026-03-16"},
        "end": {"date": "2026-03-17"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
    }
    master = api.post(EVENTS, json=body).json()

    answer = api.get(f"{EVENTS}/{master['id']}/instances").json()

    assert [i["id"] for i in answer["items"]] == [
        f"{master['id']}_20260316",
        f"{master['id']}_20260317",
    ]
    assert answer["items"][1]["originalStartTime"] == {"date": "2026-03-17"}


def test_changing_or_cancelling_one_instance_makes_an_exception(google, api):
    master = api.post(EVENTS, json=weekly(count=3)).json()
    _, token = full_round(api)
    second, third = f"{master['id']}_20260323T080000Z", f"{master['id']}_20260330T070000Z"

    patched = api.patch(f"{EVENTS}/{second}", json={"summary": "moved"})
    assert api.delete(f"{EVENTS}/{third}").status_code == 204
    items, _ = full_round(api, syncToken=token)
    live, _ = full_round(api)

    assert patched.json()["recurringEventId"] == master["id"]
    by_id = {i["id"]: i for i in items}
    assert by_id[second]["summary"] == "moved"
    assert by_id[third] == {
        "kind": "calendar#event",
        "etag": by_id[third]["etag"],
        "id": third,
        "recurringEventId": master["id"],
        "originalStartTime": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": BERLIN},
        "status": "cancelled",
    }
    # A cancelled exception of a live series is listed even without showDeleted.
    assert {i["id"]: i["status"] for i in live} == {
        master["id"]: "confirmed",
        second: "confirmed",
        third: "cancelled",
    }
    instances = api.get(f"{EVENTS}/{master['id']}/instances").json()["items"]
    assert [i["id"] for i in instances] == [f"{master['id']}_20260316T080000Z", second]


def test_a_cancelled_instance_reaches_single_events_sync_as_a_cancelled_instance(google, api):
    master = google.put_event(ROOM, weekly(count=3))
    _, token = full_round(api, singleEvents="true")

    google.cancel_instance(ROOM, master["id"], "20260323T080000Z")
    items, _ = full_round(api, singleEvents="true", syncToken=token)

    assert [(i["id"], i["status"]) for i in items] == [
        (f"{master['id']}_20260323T080000Z", "cancelled")
    ]


def test_deleting_a_series_reports_each_instance_cancelled_to_single_events_sync(google, api):
    master = google.put_event(ROOM, weekly(count=2))
    _, token = full_round(api, singleEvents="true")

    google.delete_event(ROOM, master["id"])
    items, _ = full_round(api, singleEvents="true", syncToken=token)

    assert {(i["id"], i["status"]) for i in items} == {
        (f"{master['id']}_20260316T080000Z", "cancelled"),
        (f"{master['id']}_20260323T080000Z", "cancelled"),
    }


def test_shortening_a_series_reports_its_lost_instances_cancelled_to_single_events_sync(
    google, api
):
    master = google.put_event(ROOM, weekly(count=4))
    _, token = full_round(api, singleEvents="true")

    google.patch_event(ROOM, master["id"], {"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=2"]})
    items, _ = full_round(api, singleEvents="true", syncToken=token)

    assert [(i["id"].split("_")[1], i["status"]) for i in items] == [
        ("20260316T080000Z", "confirmed"),
        ("20260323T080000Z", "confirmed"),
        ("20260330T070000Z", "cancelled"),
        ("20260406T070000Z", "cancelled"),
    ]


def test_updating_an_instance_replaces_it_with_an_exception_of_a_higher_sequence(google, api):
    master = api.post(EVENTS, json=weekly(count=2)).json()
    instance = f"{master['id']}_20260323T080000Z"

    updated = api.put(f"{EVENTS}/{instance}", json=timed(23, 14, summary="afternoon")).json()

    assert (updated["id"], updated["recurringEventId"]) == (instance, master["id"])
    assert updated["originalStartTime"]["dateTime"] == "2026-03-23T09:00:00+01:00"
    assert updated["sequence"] == master["sequence"] + 1
    assert api.get(f"{EVENTS}/{instance}").json()["summary"] == "afternoon"


def test_a_read_only_token_may_list_but_not_write(google):
    info = google.service_account_info()
    readonly = ["https://www.googleapis.com/auth/calendar.readonly"]
    form = {"grant_type": JWT_BEARER, "assertion": service_account_assertion(info, readonly)}
    with httpx.Client(base_url=google.api_url, **PLAIN) as client:
        token = client.post(google.token_uri, data=form).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"

        assert client.get(EVENTS).status_code == 200
        refused = client.post(EVENTS, json=timed(16, 9))

    assert refused.status_code == 403
    assert reason(refused) == "insufficientPermissions"


# Faults


def test_injected_rate_limits_carry_google_errors_and_retry_after(google, api):
    google.fail_next(1, status=429, reason="rateLimitExceeded", retry_after=7)
    google.fail_next(1, status=403, reason="quotaExceeded", methods=["POST"])

    throttled = api.get(EVENTS)
    listed = api.get(EVENTS)
    refused = api.post(EVENTS, json=timed(16, 9))

    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "7"
    assert throttled.json()["error"]["errors"][0] == {
        "domain": "usageLimits",
        "reason": "rateLimitExceeded",
        "message": "Rate Limit Exceeded",
    }
    assert listed.status_code == 200
    assert refused.status_code == 403
    assert reason(refused) == "quotaExceeded"
    assert refused.json()["error"]["message"] == "Calendar usage limits exceeded."


def test_the_request_log_records_each_request_and_answers_are_gzipped(google, api):
    google.reset_counters()

    answer = api.get(EVENTS, params={"maxResults": 5})

    assert answer.headers["Content-Encoding"] == "gzip"
    [record] = google.requests
    assert (record.method, record.operation, record.calendar_id, record.status) == (
        "GET",
        "events.list",
        ROOM,
        200,
    )
    assert record.query == {"maxResults": "5"}
    assert record.bytes_out > 0
    assert google.internal_errors == []


# Push


class Receiver:
    """A web hook on 127.0.0.1 that keeps the headers of each notification."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                received.append(dict(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def test_a_watch_channel_sends_sync_then_exists_after_a_change(google, api, receiver):
    answer = api.post(
        f"{EVENTS}/watch",
        json={"id": "channel-1", "type": "web_hook", "address": receiver.url, "token": "secret"},
    )
    assert answer.status_code == 200
    channel = answer.json()
    assert channel["kind"] == "api#channel"
    assert channel["id"] == "channel-1"
    assert int(channel["expiration"]) > 0

    google.put_event(ROOM, timed(16, 9))
    deliveries = google.wait_for_deliveries(2)

    assert [(d.resource_state, d.message_number, d.status) for d in deliveries] == [
        ("sync", 1, 200),
        ("exists", 2, 200),
    ]
    headers = receiver.received[1]
    assert headers["X-Goog-Channel-ID"] == "channel-1"
    assert headers["X-Goog-Channel-Token"] == "secret"
    assert headers["X-Goog-Resource-ID"] == channel["resourceId"]
    assert headers["X-Goog-Resource-URI"] == channel["resourceUri"]
    assert headers["X-Goog-Resource-State"] == "exists"
    assert headers["X-Goog-Message-Number"] == "2"
    assert headers["X-Goog-Channel-Expiration"].endswith("GMT")


def test_a_stopped_channel_sends_nothing_more(google, api, receiver):
    channel = api.post(
        f"{EVENTS}/watch", json={"id": "channel-2", "type": "web_hook", "address": receiver.url}
    ).json()
    google.wait_for_deliveries(1)

    stop = {"id": "channel-2", "resourceId": channel["resourceId"]}
    assert api.post("/channels/stop", json=stop).status_code == 204
    assert api.post("/channels/stop", json=stop).status_code == 404
    google.put_event(ROOM, timed(16, 9))

    assert google.channels() == []
    assert len(google.wait_for_deliveries(2, timeout=0.3)) == 1


# A room that decides for itself


def test_the_room_accepts_unless_busy(google, api):
    google.room_decides(ROOM, ROOM)
    room = [{"email": ROOM, "resource": True}]

    first = api.post(EVENTS, json=timed(16, 9, attendees=room)).json()
    clash = api.post(EVENTS, json=timed(16, 9, minutes=30, attendees=room)).json()
    later = api.post(EVENTS, json=timed(16, 10, attendees=room)).json()

    assert [e["attendees"][0]["responseStatus"] for e in (first, clash, later)] == [
        "accepted",
        "declined",
        "accepted",
    ]
    assert first["attendees"][0]["self"] is True


@pytest.mark.parametrize(
    ("mode", "answer"), [("decline_all", "declined"), ("ignore", "needsAction")]
)
def test_a_room_that_declines_everything_or_stays_silent(google, api, mode, answer):
    google.room_decides(ROOM, ROOM, mode=mode)

    event = api.post(EVENTS, json=timed(16, 9, attendees=[{"email": ROOM}])).json()

    assert event["attendees"][0]["responseStatus"] == answer
