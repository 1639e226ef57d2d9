"""Reading a room's calendar from the Google emulator: full and incremental listings,
instances of series, cancellations, `get`, and the limits of one read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from calsync.errors import DeltaKeyExpired, ProviderRejected
from calsync.providers.google import read_event
from calsync.providers.wire import LimitExceeded, Limits
from tests.providers.google.conftest import BERLIN, ROOM, YEAR_2026, make_provider, timed

pytestmark = pytest.mark.timeout(30)
FORBIDDEN_WITH_SYNC_TOKEN = (
    *("iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty"),
    *("timeMin", "timeMax", "updatedMin", "showDeleted"),
)


def listed(google):
    return [r for r in google.requests if r.operation == "events.list"]


def test_a_full_listing_pages_through_every_live_event_and_ends_with_the_sync_token(google):
    made = [google.put_event(ROOM, timed(day, 9, summary=f"M{day}")) for day in range(2, 7)]
    pages = []
    with make_provider(google, page_size=2) as provider:
        batch = provider.fetch_changes(ROOM, None, pages.append)
    assert batch.full
    assert batch.delta_key
    assert {(c.provider_id, c.version) for c in batch.changes} == {
        (e["id"], e["etag"]) for e in made
    }
    assert [len(page) for page in pages] == [2, 2, 1]
    assert batch.exchange.requests == 3
    queries = [r.query for r in listed(google)]
    assert all(q["singleEvents"] == "true" and q["maxResults"] == "2" for q in queries)
    assert not any("syncToken" in q or "showDeleted" in q for q in queries)
    assert [("pageToken" in q) for q in queries] == [False, True, True]


def test_each_change_carries_the_event_json_as_google_sent_it(google, provider):
    made = google.put_event(ROOM, timed(3, 9, summary="Grüße"))
    (change,) = provider.fetch_changes(ROOM, None).changes
    assert json.loads(change.data.decode("utf-8")) == made
    assert provider.uid_of(change.data) == made["iCalUID"]


def test_a_full_listing_leaves_out_cancelled_events(google, provider):
    kept = google.put_event(ROOM, timed(3, 9))
    gone = google.put_event(ROOM, timed(4, 9))
    google.delete_event(ROOM, gone["id"])
    batch = provider.fetch_changes(ROOM, None)
    assert [c.provider_id for c in batch.changes] == [kept["id"]]


def test_an_incremental_read_returns_edits_additions_and_removals(google, provider):
    kept = google.put_event(ROOM, timed(3, 9))
    edited = google.put_event(ROOM, timed(4, 9, summary="Before"))
    gone = google.put_event(ROOM, timed(5, 9))
    key = provider.fetch_changes(ROOM, None).delta_key
    google.patch_event(ROOM, edited["id"], {"summary": "After"})
    google.delete_event(ROOM, gone["id"])
    added = google.put_event(ROOM, timed(6, 9))
    batch = provider.fetch_changes(ROOM, key)
    assert not batch.full
    assert batch.delta_key not in (None, key)
    by_id = {c.provider_id: c for c in batch.changes}
    assert set(by_id) == {edited["id"], gone["id"], added["id"]}
    assert kept["id"] not in by_id
    assert by_id[gone["id"]].removed
    assert by_id[gone["id"]].data is None
    assert json.loads(by_id[edited["id"]].data)["summary"] == "After"
    assert by_id[edited["id"]].version == google.event(ROOM, edited["id"])["etag"]
    query = listed(google)[-1].query
    assert query["syncToken"] == key
    assert not set(FORBIDDEN_WITH_SYNC_TOKEN) & set(query)


def test_nothing_changed_reads_nothing_and_keeps_a_usable_key(google, provider):
    google.put_event(ROOM, timed(3, 9))
    key = provider.fetch_changes(ROOM, None).delta_key
    again = provider.fetch_changes(ROOM, key)
    assert again.changes == ()
    assert provider.fetch_changes(ROOM, again.delta_key).changes == ()


def test_an_incremental_read_of_one_change_costs_one_request(google, provider):
    made = google.put_event(ROOM, timed(3, 9))
    key = provider.fetch_changes(ROOM, None).delta_key
    google.patch_event(ROOM, made["id"], {"summary": "Moved"})
    google.reset_counters()
    before = provider.counters
    batch = provider.fetch_changes(ROOM, key)
    assert len(batch.changes) == 1
    assert batch.exchange.requests == 1
    assert (provider.counters - before).requests == 1
    assert len(google.requests) == 1  # the token is still good: no token request
    assert google.token_requests == 0


@pytest.mark.parametrize("garbled", [False, True])
def test_an_expired_or_unknown_sync_token_is_an_expired_delta_key(google, provider, garbled):
    google.put_event(ROOM, timed(3, 9))
    key = provider.fetch_changes(ROOM, None).delta_key
    if garbled:
        key = "not-a-token"
    else:
        google.expire_sync_tokens(ROOM)
    with pytest.raises(DeltaKeyExpired, match="no longer accepts the sync token"):
        provider.fetch_changes(ROOM, key)
    assert provider.fetch_changes(ROOM, None).full


def test_a_series_is_read_as_its_instances_each_with_its_recurrence_id(google, provider):
    series = google.put_event(
        ROOM, timed(16, 9, summary="Weekly", recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"])
    )
    batch = provider.fetch_changes(ROOM, None)
    objects = [read_event(c.data.decode(), BERLIN, YEAR_2026) for c in batch.changes]
    assert {o.uid for o in objects} == {series["iCalUID"]}
    occurrences = sorted((o.occurrences[0] for o in objects), key=lambda o: o.start)
    # 09:00 in Berlin: CET until 29 March, CEST after.
    assert [o.recurrence_id for o in occurrences] == [
        datetime(2026, 3, 16, 8, tzinfo=UTC),
        datetime(2026, 3, 23, 8, tzinfo=UTC),
        datetime(2026, 3, 30, 7, tzinfo=UTC),
    ]
    assert all(o.recurrence_id == o.start for o in occurrences)
    assert all(c.provider_id.startswith(series["id"] + "_") for c in batch.changes)


def test_a_moved_instance_keeps_its_original_start_as_recurrence_id(google, provider):
    series = google.put_event(ROOM, timed(16, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=2"]))
    instance = f"{series['id']}_20260316T080000Z"
    google.patch_event(ROOM, instance, timed(17, 14))
    batch = provider.fetch_changes(ROOM, None)
    (moved,) = [c for c in batch.changes if c.provider_id == instance]
    (occurrence,) = read_event(moved.data.decode(), BERLIN, YEAR_2026).occurrences
    assert occurrence.recurrence_id == datetime(2026, 3, 16, 8, tzinfo=UTC)
    assert occurrence.start == datetime(2026, 3, 17, 13, tzinfo=UTC)


def test_a_cancelled_instance_comes_as_a_removed_object(google, provider):
    series = google.put_event(ROOM, timed(16, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]))
    key = provider.fetch_changes(ROOM, None).delta_key
    google.cancel_instance(ROOM, series["id"], datetime(2026, 3, 23, 8, tzinfo=UTC))
    batch = provider.fetch_changes(ROOM, key)
    instance = f"{series['id']}_20260323T080000Z"
    assert [(c.provider_id, c.removed) for c in batch.changes] == [(instance, True)]
    assert instance not in {c.provider_id for c in provider.fetch_changes(ROOM, None).changes}


def test_deleting_a_series_removes_each_of_its_instances(google, provider):
    series = google.put_event(ROOM, timed(16, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"]))
    key = provider.fetch_changes(ROOM, None).delta_key
    google.delete_event(ROOM, series["id"])
    batch = provider.fetch_changes(ROOM, key)
    assert len(batch.changes) == 3
    assert all(c.removed for c in batch.changes)


def test_an_all_day_event_reads_as_whole_days_in_the_item_zone(google, provider):
    google.put_event(
        ROOM, {"summary": "Offsite", "start": {"date": "2026-03-10"}, "end": {"date": "2026-03-12"}}
    )
    (change,) = provider.fetch_changes(ROOM, None).changes
    (occurrence,) = read_event(change.data.decode(), BERLIN, YEAR_2026).occurrences
    assert occurrence.all_day
    assert occurrence.start == datetime(2026, 3, 9, 23, tzinfo=UTC)
    assert occurrence.end == datetime(2026, 3, 11, 23, tzinfo=UTC)  # the end date is exclusive


def test_an_all_day_series_names_its_instances_by_date(google, provider):
    series = google.put_event(
        ROOM,
        {
            "start": {"date": "2026-03-10"},
            "end": {"date": "2026-03-11"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=2"],
        },
    )
    batch = provider.fetch_changes(ROOM, None)
    ids = sorted(c.provider_id for c in batch.changes)
    assert ids == [f"{series['id']}_20260310", f"{series['id']}_20260311"]
    first = next(c for c in batch.changes if c.provider_id == ids[0])
    (occurrence,) = read_event(first.data.decode(), BERLIN, YEAR_2026).occurrences
    assert occurrence.recurrence_id == datetime(2026, 3, 9, 23, tzinfo=UTC)  # midnight in Berlin


def test_get_reads_one_event_with_its_etag(google, provider):
    made = google.put_event(ROOM, timed(3, 9, summary="One"))
    change = provider.get(ROOM, made["id"])
    assert change.provider_id == made["id"]
    assert change.version == made["etag"]
    assert json.loads(change.data)["summary"] == "One"


def test_get_of_an_instance_reads_it_though_it_is_not_stored(google, provider):
    series = google.put_event(ROOM, timed(16, 9, recurrence=["RRULE:FREQ=WEEKLY;COUNT=2"]))
    change = provider.get(ROOM, f"{series['id']}_20260323T080000Z")
    assert json.loads(change.data)["recurringEventId"] == series["id"]


def test_get_of_a_cancelled_event_is_gone_and_of_an_unknown_one_not_found(google, provider):
    gone = google.put_event(ROOM, timed(3, 9))
    google.delete_event(ROOM, gone["id"])
    with pytest.raises(ProviderRejected) as cancelled:
        provider.get(ROOM, gone["id"])
    assert cancelled.value.status == 410
    with pytest.raises(ProviderRejected) as unknown:
        provider.get(ROOM, "nosuchevent0")
    assert unknown.value.status == 404


def test_a_listing_longer_than_max_sync_rounds_pages_fails_with_the_setting_named(google):
    for day in range(2, 6):
        google.put_event(ROOM, timed(day, 9))
    provider = make_provider(google, page_size=1, limits=Limits(max_sync_rounds=3))
    with provider, pytest.raises(LimitExceeded, match="max_sync_rounds = 3"):
        provider.fetch_changes(ROOM, None)
    assert len(listed(google)) == 3


def test_an_unknown_calendar_is_refused_as_not_found(provider):
    with pytest.raises(ProviderRejected) as refused:
        provider.fetch_changes("nobody@resource.calendar.google.com", None)
    assert refused.value.status == 404
    assert "notFound" in str(refused.value)


def test_the_exchange_shows_requests_and_answers_without_the_bearer_token(google, provider):
    google.put_event(ROOM, timed(3, 9))
    batch = provider.fetch_changes(ROOM, None)
    assert "GET " in batch.exchange.request
    assert "singleEvents=true" in batch.exchange.request
    assert batch.exchange.response.startswith("200")
    assert "Bearer" not in batch.exchange.request
    assert "ya29." not in batch.exchange.request + batch.exchange.response
