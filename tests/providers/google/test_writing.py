"""Writing to a room's calendar in the Google emulator: booking under calsync's own id,
rebooking and cancelling with If-Match, and the edits of someone else's meeting (the
room's answer, one instance cancelled or moved)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from calsync.errors import ObjectExists, ProviderRejected
from calsync.providers.base import OccurrenceCancel, OccurrenceMove, RoomAnswer
from calsync.providers.google import read_event
from tests.providers.google.conftest import (
    BERLIN,
    ROOM,
    YEAR_2026,
    booking,
    make_provider,
    someone_elses,
    timed,
)

pytestmark = pytest.mark.timeout(30)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def room_answer(event):
    (room,) = [a for a in event["attendees"] if a["email"] == ROOM]
    return room["responseStatus"]


def writes(google):
    return [r for r in google.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def test_a_booking_lands_under_its_own_id_asking_the_room_with_calsyncs_mark(google, provider):
    result = provider.book(ROOM, booking())
    assert result.provider_id == provider.locate(ROOM, "res-1@calsync")
    assert re.fullmatch(r"[a-v0-9]{32}", result.provider_id)
    stored = google.event(ROOM, result.provider_id)
    assert result.version == stored["etag"]
    assert stored["iCalUID"] == "res-1@calsync"
    assert stored["summary"] == "Team sync"
    assert stored["start"] == {"dateTime": "2026-03-20T10:00:00+01:00", "timeZone": BERLIN}
    assert stored["end"] == {"dateTime": "2026-03-20T11:00:00+01:00", "timeZone": BERLIN}
    (room,) = stored["attendees"]
    assert {k: room[k] for k in ("email", "displayName", "resource", "responseStatus")} == {
        "email": ROOM,
        "displayName": "Room 1",
        "resource": True,
        "responseStatus": "needsAction",  # the room answers itself
    }
    assert result.room_answer is None
    assert stored["extendedProperties"]["private"] == {
        "calsync": "1",
        "calsyncUid": "res-1@calsync",
    }
    assert writes(google)[-1].query == {"sendUpdates": "none"}
    assert "POST " in result.exchange.request
    assert result.exchange.requests == 1


def test_the_payload_kept_is_the_body_book_sends(google, provider):
    sent = json.loads(provider.payload_of(booking()))
    stored = google.event(ROOM, provider.book(ROOM, booking()).provider_id)
    assert sent["id"] == stored["id"]
    assert {k: stored[k] for k in ("iCalUID", "summary", "start", "end", "sequence")} == {
        k: sent[k] for k in ("iCalUID", "summary", "start", "end", "sequence")
    }
    assert provider.uid_of(provider.payload_of(booking()).encode()) == "res-1@calsync"


def test_an_all_day_booking_is_written_as_dates_in_the_item_zone(google, provider):
    day = booking(
        start=datetime(2026, 3, 9, 23, tzinfo=UTC),  # midnight, 10 March, in Berlin
        end=datetime(2026, 3, 11, 23, tzinfo=UTC),
        all_day=True,
    )
    stored = google.event(ROOM, provider.book(ROOM, day).provider_id)
    assert stored["start"] == {"date": "2026-03-10"}
    assert stored["end"] == {"date": "2026-03-12"}  # exclusive
    (change,) = provider.fetch_changes(ROOM, None).changes
    (occurrence,) = read_event(change.data.decode(), BERLIN, YEAR_2026).occurrences
    assert (occurrence.start, occurrence.end, occurrence.all_day) == (day.start, day.end, True)


def test_booking_twice_is_refused_naming_where_the_first_landed(google, provider):
    first = provider.book(ROOM, booking())
    with pytest.raises(ObjectExists) as refused:
        provider.book(ROOM, booking(subject="Again"))
    assert refused.value.provider_id == first.provider_id
    assert google.event(ROOM, first.provider_id)["summary"] == "Team sync"


def test_a_booking_read_back_is_calsyncs_own_with_its_uid(google, provider):
    result = provider.book(ROOM, booking())
    change = provider.get(ROOM, result.provider_id)
    assert provider.uid_of(change.data) == "res-1@calsync"
    assert change.version == result.version


def test_rebook_replaces_the_event_at_its_version(google, provider):
    first = provider.book(ROOM, booking())
    moved = booking(
        start=datetime(2026, 3, 21, 9, tzinfo=UTC),
        end=datetime(2026, 3, 21, 11, tzinfo=UTC),
        subject="Longer",
        sequence=1,
    )
    second = provider.rebook(ROOM, first.provider_id, moved, first.version)
    stored = google.event(ROOM, first.provider_id)
    assert second.version == stored["etag"] != first.version
    assert stored["summary"] == "Longer"
    assert stored["start"]["dateTime"] == "2026-03-21T10:00:00+01:00"
    assert stored["sequence"] == 1
    assert writes(google)[-1].method == "PUT"


def test_rebook_with_a_stale_version_is_refused_and_changes_nothing(google, provider):
    first = provider.book(ROOM, booking())
    provider.rebook(ROOM, first.provider_id, booking(subject="Second"), first.version)
    with pytest.raises(ProviderRejected) as refused:
        provider.rebook(ROOM, first.provider_id, booking(subject="Lost"), first.version)
    assert refused.value.status == 412
    assert "conditionNotMet" in str(refused.value)
    assert google.event(ROOM, first.provider_id)["summary"] == "Second"


def test_cancel_deletes_and_cancelling_again_is_fine(google, provider):
    made = provider.book(ROOM, booking())
    provider.cancel(ROOM, made.provider_id, made.version)
    assert google.event(ROOM, made.provider_id)["status"] == "cancelled"
    provider.cancel(ROOM, made.provider_id, made.version)
    provider.cancel(ROOM, "neverexisted0", None)


def test_cancel_with_a_stale_version_is_refused(google, provider):
    made = provider.book(ROOM, booking())
    provider.rebook(ROOM, made.provider_id, booking(subject="Changed"), made.version)
    with pytest.raises(ProviderRejected) as refused:
        provider.cancel(ROOM, made.provider_id, made.version)
    assert refused.value.status == 412
    assert google.event(ROOM, made.provider_id)["status"] == "confirmed"


def test_the_room_accepts_someone_elses_meeting_leaving_everyone_else_as_they_were(
    google, provider
):
    made = google.put_event(ROOM, someone_elses())
    current = provider.get(ROOM, made["id"])
    result = provider.edit(
        ROOM, made["id"], current.version, current.data, RoomAnswer(ROOM, "ACCEPTED", NOW)
    )
    stored = google.event(ROOM, made["id"])
    assert room_answer(stored) == "accepted"
    assert result.version == stored["etag"] != current.version
    others = [a for a in stored["attendees"] if a["email"] != ROOM]
    assert others == [a for a in made["attendees"] if a["email"] != ROOM]
    assert stored["organizer"]["email"] == "alice@example.com"
    assert stored["sequence"] == made["sequence"]  # an answer is no new version of the meeting
    request = writes(google)[-1]
    assert (request.method, request.query) == ("PATCH", {"sendUpdates": "none"})
    assert f"If-Match: {current.version}" in result.exchange.request


@pytest.mark.parametrize(
    ("partstat", "status"), [("DECLINED", "declined"), ("TENTATIVE", "tentative")]
)
def test_the_room_answers_from_the_event_as_read_now_when_no_payload_is_at_hand(
    google, provider, partstat, status
):
    made = google.put_event(ROOM, someone_elses())
    result = provider.edit(ROOM, made["id"], made["etag"], None, RoomAnswer(ROOM, partstat, NOW))
    assert room_answer(google.event(ROOM, made["id"])) == status
    assert result.exchange.requests == 2  # read, then patch


def test_an_answer_to_a_version_changed_meanwhile_is_refused(google, provider):
    made = google.put_event(ROOM, someone_elses())
    current = provider.get(ROOM, made["id"])
    google.patch_event(ROOM, made["id"], {"summary": "Moved on"})
    with pytest.raises(ProviderRejected) as refused:
        provider.edit(
            ROOM, made["id"], current.version, current.data, RoomAnswer(ROOM, "ACCEPTED", NOW)
        )
    assert refused.value.status == 412
    assert room_answer(google.event(ROOM, made["id"])) == "needsAction"
    with pytest.raises(ProviderRejected) as unread:
        provider.edit(ROOM, made["id"], current.version, None, RoomAnswer(ROOM, "ACCEPTED", NOW))
    assert unread.value.status == 412


def test_a_room_missing_from_the_attendees_is_added_with_its_answer(google, provider):
    made = google.put_event(ROOM, timed(3, 10, attendees=[{"email": "bob@example.com"}]))
    provider.edit(ROOM, made["id"], made["etag"], None, RoomAnswer(ROOM, "ACCEPTED", NOW))
    stored = google.event(ROOM, made["id"])
    assert [a["email"] for a in stored["attendees"]] == ["bob@example.com", ROOM]
    assert room_answer(stored) == "accepted"


def test_cancelling_one_instance_deletes_that_instance_only(google, provider):
    series = google.put_event(ROOM, someone_elses(16, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]))
    instance = f"{series['id']}_20260323T080000Z"
    current = provider.get(ROOM, instance)
    result = provider.edit(
        ROOM,
        instance,
        current.version,
        current.data,
        OccurrenceCancel(datetime(2026, 3, 23, 8, tzinfo=UTC), NOW),
    )
    assert (result.provider_id, result.version) == (instance, None)
    assert google.event(ROOM, instance)["status"] == "cancelled"
    assert google.event(ROOM, series["id"])["status"] == "confirmed"
    live = {c.provider_id for c in provider.fetch_changes(ROOM, None).changes}
    assert live == {f"{series['id']}_20260316T080000Z", f"{series['id']}_20260330T070000Z"}


def test_moving_one_instance_moves_that_instance_only(google, provider):
    series = google.put_event(ROOM, someone_elses(16, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]))
    instance = f"{series['id']}_20260323T080000Z"
    current = provider.get(ROOM, instance)
    move = OccurrenceMove(
        datetime(2026, 3, 23, 8, tzinfo=UTC),
        datetime(2026, 3, 24, 13, tzinfo=UTC),
        datetime(2026, 3, 24, 14, tzinfo=UTC),
        "Planning",
        BERLIN,
        NOW,
    )
    result = provider.edit(ROOM, instance, current.version, current.data, move)
    stored = google.event(ROOM, instance)
    assert result.version == stored["etag"]
    assert stored["start"] == {"dateTime": "2026-03-24T14:00:00+01:00", "timeZone": BERLIN}
    assert stored["end"]["dateTime"] == "2026-03-24T15:00:00+01:00"
    assert stored["summary"] == "Planning"
    assert [a["responseStatus"] for a in stored["attendees"]] == [
        a["responseStatus"] for a in series["attendees"]
    ]
    other = google.event(ROOM, f"{series['id']}_20260316T080000Z")
    assert other["start"]["dateTime"] == "2026-03-16T09:00:00+01:00"


def test_a_room_that_decides_for_itself_answers_a_booking(google, provider):
    google.put_event(
        ROOM,
        timed(20, 10, attendees=[{"email": ROOM, "resource": True, "responseStatus": "accepted"}]),
    )
    google.room_decides(ROOM, ROOM)
    result = provider.book(ROOM, booking())  # 09:00Z is 10:00 in Berlin: busy
    assert room_answer(google.event(ROOM, result.provider_id)) == "declined"
    (entry,) = read_event(
        provider.get(ROOM, result.provider_id).data.decode(), BERLIN, YEAR_2026
    ).entries
    assert [a.partstat for a in entry.attendees] == ["DECLINED"]


def test_writes_from_several_threads_share_one_token(google):
    with make_provider(google) as provider, ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda n: provider.book(ROOM, booking(f"res-{n}@calsync")), range(16)))
    assert len({m.provider_id for m in made}) == 16
    assert google.token_requests == 1
