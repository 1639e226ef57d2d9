"""What must survive: expired delta keys, data-loss-looking listings, crashes, failed
events and bad input. Against a real Radicale, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.errors import ProviderUnavailable
from calsync.store.records import RecordFilter
from calsync.sync import pull
from calsync.sync.pull import synchronize
from calsync.sync.reprocess import reprocess, reprocess_failed
from calsync.worker.runner import request_sync
from tests.conftest import Killed
from tests.sync.calendars import (
    book,
    claim,
    drain,
    ics,
    reservations,
    reserve,
    room_settings,
    sync,
    sync_run,
    vevent,
)

pytestmark = pytest.mark.radicale

MADE_UP_KEY = "http://radicale.org/ns/sync/" + "0" * 64


def forget_delta_key(services, key: str | None = MADE_UP_KEY) -> None:
    with services.uow() as uow:
        uow.items.set_delta_key(uow.items.get("Room A").id, key)
        uow.commit()


@pytest.fixture
def room(make_services, room_calendar):
    services = make_services(room_settings(room_calendar))
    return services, services.provider("dav"), room_calendar


def test_expired_delta_key_cancels_reservations_deleted_in_the_gap(room):
    services, provider, calendar = room
    hrefs = {uid: book(provider, calendar, uid, day) for day, uid in enumerate("abcdef", start=2)}
    sync(services)
    before = {r.uid: r.id for r in reservations(services)}
    provider.delete(calendar, hrefs["b"], None)
    provider.delete(calendar, hrefs["e"], None)
    forget_delta_key(services)  # the server no longer knows our key

    result = sync(services)

    assert result.mode == "full"
    assert "expired" in result.detail
    after = {r.uid: r for r in reservations(services)}
    assert {uid for uid, r in after.items() if r.status == ReservationStatus.cancelled} == {
        "b",
        "e",
    }
    assert {uid: r.id for uid, r in after.items()} == before  # untouched ones keep their ids
    assert len(reservations(services)) == 6  # and nothing was duplicated


def test_a_full_listing_that_lost_most_entries_waits_for_confirmation(room):
    services, provider, calendar = room
    hrefs = [book(provider, calendar, f"m{day}", day) for day in range(1, 13)]
    sync(services)
    for href in hrefs[1:]:
        provider.delete(calendar, href, None)
    forget_delta_key(services)

    held = sync(services)

    assert held.outcome == "needs_confirmation"
    assert len(reservations(services, "confirmed")) == 12  # nothing swept on a suspicious listing
    with services.uow() as uow:
        assert uow.items.get("Room A").delta_key == MADE_UP_KEY  # the key did not move

    confirmed = sync(services, full=True, confirm_sweep=True)

    assert confirmed.outcome == "succeeded"
    assert len(reservations(services, "confirmed")) == 1
    assert len(reservations(services, "cancelled")) == 11


def test_the_sweep_hold_is_a_setting(make_services, room_calendar):
    """With sync.sweep_hold_share = 0.9, a full listing that lost 2 of 10 entries is held."""
    services = make_services(room_settings(room_calendar), sync={"sweep_hold_share": 0.9})
    provider = services.provider("dav")
    hrefs = [book(provider, room_calendar, f"m{day}", day) for day in range(1, 11)]
    sync(services)
    for href in hrefs[:2]:
        provider.delete(room_calendar, href, None)
    forget_delta_key(services)

    held = sync(services)

    assert held.outcome == "needs_confirmation"
    assert "listed 8 entries where 10 were known" in held.detail
    assert len(reservations(services, "confirmed")) == 10


def test_a_crash_between_fetching_and_committing_loses_nothing(room, clock):
    services, provider, calendar = room
    for day in range(2, 6):
        book(provider, calendar, f"m{day}", day)
    make_uow = services.uow

    class CrashingCommit:
        def __init__(self):
            self.uow = make_uow()

        def __enter__(self):
            self.uow.__enter__()
            self.uow.commit = self.crash
            return self.uow

        def __exit__(self, *exc):
            return self.uow.__exit__(*exc)

        def crash(self):
            raise Killed("power cut")

    event_id = claim(services, request_sync(services, "Room A"))
    services.uow = CrashingCommit
    with pytest.raises(Killed, match="power cut"):
        synchronize(services, event_id)
    services.uow = make_uow

    with services.uow() as uow:
        assert uow.items.get("Room A").delta_key is None
        assert uow.calendar_items.find(RecordFilter()) == []
    assert reservations(services) == []

    clock.advance(minutes=10)  # the crashed worker's lease runs out
    drain(services)  # another worker takes the same read event again
    with services.uow() as uow:
        assert uow.events.get(event_id).state == "processed"
    sync(services)  # and one more synchronization, which must change nothing
    live = reservations(services, "confirmed")
    assert sorted(r.uid for r in live) == ["m2", "m3", "m4", "m5"]
    assert len(reservations(services)) == 4


def synchronizations(services) -> list[tuple[str, str | None]]:
    """(outcome, delta key after) of every synchronization, oldest first."""
    with services.uow() as uow:
        rows = uow.synchronizations.find(RecordFilter())
        return [(row.outcome, row.delta_key_after) for row in reversed(rows)]


def test_a_crash_after_some_pages_were_applied_moves_no_key_and_a_rerun_converges(
    room, clock, monkeypatch
):
    services, provider, calendar = room
    provider.multiget_batch = 2  # seven entries come in four pages: 2, 2, 2, 1
    for day in range(2, 9):
        book(provider, calendar, f"m{day}", day)

    def power_cut(*args, **kwargs):
        raise Killed("power cut")

    with monkeypatch.context() as patched:
        patched.setattr(pull._Recording, "finish", power_cut)
        with pytest.raises(Killed, match="power cut"):
            sync_run(services)

    # The first three pages were recorded and applied while the next ones came in...
    assert len(reservations(services, "confirmed")) == 6
    with services.uow() as uow:
        assert uow.items.get("Room A").delta_key is None  # ...but the key did not move
        assert len(uow.calendar_items.find(RecordFilter(status="pending"))) == 1
    assert synchronizations(services) == [("running", None)]

    clock.advance(minutes=10)  # the crashed worker's lease runs out
    drain(services)  # another worker takes the same read event again

    assert [outcome for outcome, _ in synchronizations(services)] == ["interrupted", "succeeded"]
    assert synchronizations(services)[-1][1] is not None  # now the key moved
    live = reservations(services, "confirmed")
    assert sorted(r.uid for r in live) == [f"m{day}" for day in range(2, 9)]
    assert len(reservations(services)) == 7  # nothing twice
    with services.uow() as uow:
        assert uow.calendar_items.find(RecordFilter(status="pending")) == []
    again = sync(services)  # the next read sees only the room's answers coming back
    with services.uow() as uow:
        seen = uow.calendar_items.find(RecordFilter(synchronization_id=again.synchronization_id))
        assert {row.status for row in seen} <= {"skipped"}
    assert len(reservations(services)) == 7


def test_a_provider_failing_mid_read_loses_nothing_and_the_retry_converges(room, clock):
    services, provider, calendar = room
    provider.multiget_batch = 2
    for day in range(2, 9):
        book(provider, calendar, f"m{day}", day)
    ask = provider._ask_multiget
    asked: list[int] = []

    def third_page_fails(*args):
        asked.append(1)
        if len(asked) == 3:
            raise ProviderUnavailable("503 Service Unavailable")
        return ask(*args)

    provider._ask_multiget = third_page_fails
    failed = sync_run(services)
    del provider._ask_multiget

    assert failed.state == "new"  # to be retried after a backoff
    assert "503" in failed.error
    [(outcome, key)] = synchronizations(services)
    assert (outcome, key) == ("failed", None)
    with services.uow() as uow:
        assert uow.items.get("Room A").delta_key is None
        assert len(uow.calendar_items.find(RecordFilter())) == 4  # two pages, kept

    clock.advance(minutes=10)
    drain(services)

    assert [outcome for outcome, _ in synchronizations(services)] == ["failed", "succeeded"]
    assert sorted(r.uid for r in reservations(services, "confirmed")) == [
        f"m{day}" for day in range(2, 9)
    ]
    assert len(reservations(services)) == 7


def test_a_failed_event_reprocessed_twice_writes_the_calendar_once(make_services, room_calendar):
    missing = room_calendar.rstrip("/") + "-not-yet/"
    services = make_services(room_settings(missing))
    made = reserve(services, "Board meeting")
    drain(services)
    with services.uow() as uow:
        [event] = uow.events.find(RecordFilter(action="create"))
        assert event.state == "error"
        assert event.error  # kept, readable
        assert "Board meeting" in event.provider_payload  # the request is kept too
        event_id = event.id

    provider = services.provider("dav")
    provider.make_calendar(missing, "Room A")
    assert reprocess_failed(services, RecordFilter()) == [event_id]
    assert reprocess(services, event_id) is False  # already queued: nothing more to do
    drain(services)
    assert reprocess(services, event_id) is False  # processed: reprocessing changes nothing
    drain(services)

    listing = provider.fetch_changes(missing, None).changes
    assert len(listing) == 1
    with services.uow() as uow:
        assert uow.events.get(event_id).state == "processed"
        assert uow.reservations.get(made.id).provider_id == listing[0].provider_id


@pytest.mark.parametrize(
    ("label", "broken"),
    [
        ("ends before it starts", vevent("bad", "20261203T110000", "20261203T100000")),
        (
            "an unbounded rule every second",
            vevent("bad", "20261203T100000", "20261203T100001", extra="RRULE:FREQ=SECONDLY\r\n"),
        ),
        (
            "a zone nobody can map",
            vevent("bad", "20261203T100000", "20261203T110000", zone="Customized Time Zone"),
        ),
    ],
)
def test_a_malformed_entry_fails_only_its_own_calendar_item(room, radicale, label, broken):
    services, provider, calendar = room
    book(provider, calendar, "good-1", 2)
    put_unchecked(radicale.url, calendar, "bad.ics", ics(broken))
    book(provider, calendar, "good-2", 4)

    result = sync_run(services)

    assert result.error == ""  # the synchronization itself succeeded
    assert sorted(r.uid for r in reservations(services, "confirmed")) == ["good-1", "good-2"]
    with services.uow() as uow:
        failed = uow.calendar_items.find(RecordFilter(status="failed"))
    assert len(failed) == 1
    assert "bad" in failed[0].error
    assert failed[0].provider_payload  # kept for the admin to read


def put_unchecked(base_url: str, calendar: str, name: str, data: bytes) -> None:
    """Store an object as a sloppy client would; Radicale checks little of its meaning."""
    import httpx

    response = httpx.put(
        f"{base_url}{calendar}{name}", content=data, headers={"Content-Type": "text/calendar"}
    )
    assert response.status_code in (200, 201, 204), response.text
