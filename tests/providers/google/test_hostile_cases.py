"""What a hostile or unlucky Google does to calsync: a service down when a booking's
answer is checked, a landed create deleted before its run ended, a room with years of
history, a key that is no key, and a series answered instance by instance. Each found by
trying to break the Google adapter, through the production code."""

from __future__ import annotations

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.reservations import ReservationStatus
from calsync.sync.room_answers import recheck_awaiting
from tests.providers.google.conftest import ROOM, google_settings
from tests.sync.calendars import drain, reservations, reserve

pytestmark = pytest.mark.timeout(60)


def test_a_booking_is_not_given_up_while_google_cannot_be_read(google, services, clock):
    """The room has not answered yet; when calsync rechecks, Google is down. The failed
    read counts as "its calendar was read after the wait", so the booking is given up as
    conflicted (declined or dropped by the room) without calsync having seen anything."""
    google.room_decides(ROOM, ROOM, "ignore")
    reserve(services, "Board meeting")
    drain(services)
    clock.advance(minutes=11)
    assert recheck_awaiting(services).reads_queued
    google.fail_next(10, status=503, reason="backendError", domain="global")
    drain(services)  # the read fails: Google answers 503
    assert recheck_awaiting(services).given_up == []
    [reservation] = reservations(services)
    assert reservation.status == ReservationStatus.awaiting_confirmation


def _events(services, **where):
    from calsync.store.records import RecordFilter

    with services.uow() as uow:
        return uow.events.find(RecordFilter(**where))


def test_a_booking_whose_landed_create_was_deleted_in_google_does_not_stay_in_error(
    google,
    services,
    clock,
    monkeypatch,
):
    """The worker dies right after Google stored calsync's create; before another worker
    takes the create over, someone deletes the event in Google. The retry's insert answers
    409 (Google keeps a deleted event's id), the read-back finds it cancelled, and the
    create fails for good: the reservation holds the room in calsync with no entry in the
    calendar, and no later read repairs it (invariant 1)."""
    from calsync.sync import push
    from calsync.worker.runner import run_once
    from tests.conftest import Killed

    google.room_decides(ROOM, ROOM, "accept_unless_busy")
    finish, killed = push._finish, []

    def killed_after_the_create(run, *args, **kwargs):
        if not killed:
            killed.append(run.event_id)
            raise Killed("worker killed")
        return finish(run, *args, **kwargs)

    monkeypatch.setattr(push, "_finish", killed_after_the_create)
    made = reserve(services, "Board meeting")
    with pytest.raises(Killed):
        run_once(services, limit=1)
    [landed] = google.events(ROOM)
    google.delete_event(ROOM, landed["id"])  # a Workspace admin removes it
    for _ in range(5):
        clock.advance(minutes=10)  # past the lease, and every backoff
        drain(services)
    failed = [(e.action, e.error) for e in _events(services, status="error")]
    assert failed == []
    [reservation] = reservations(services)
    live = google.events(ROOM)
    assert reservation.id == made.id
    assert (reservation.status == ReservationStatus.cancelled) or len(live) == 1, (
        f"{reservation.status}: held in calsync, absent from Google"
    )


def _live(services):
    held = (ReservationStatus.confirmed, ReservationStatus.awaiting_confirmation)
    return sorted((r.start, r.recurrence_id) for r in reservations(services) if r.status in held)


def test_the_room_answers_someones_recurring_meeting_once_not_once_per_instance(
    google,
    services,
):
    """Alice books the room for a daily series of 30. calsync accepted it by patching the
    attendees of each instance: 30 PATCH requests, each turning an instance into an
    exception that overrides the series' attendees (Google's per-user quota is 600
    requests a minute; a series-wide change by Alice later met 30 exceptions). Seen in
    the emulator: after Alice moved the series, the answered instances stayed at their
    old times beside the new ones, and calsync held the room for both (proven gone in
    test_series_answers.py, with the guards of an answer written on the series)."""
    from tests.providers.google.conftest import someone_elses
    from tests.sync.calendars import sync

    google.put_event(ROOM, someone_elses(1, 10, month=11, recurrence=["RRULE:FREQ=DAILY;COUNT=30"]))
    sync(services)
    google.reset_counters()
    drain(services)
    patches = [r for r in google.requests if r.method == "PATCH"]
    assert len(_live(services)) == 30
    assert len(patches) <= 1, f"{len(patches)} PATCH requests to answer one series"


def test_a_room_with_years_of_history_still_synchronizes_in_full(
    google, google_key, tmp_path, clock
):
    """The full listing (first synchronization, or after Google expired the sync token)
    has no timeMin: with singleEvents it lists every meeting the room ever had, each
    instance of every series since it began. A room with a long history exceeds the read's
    page limit and its calendar is never synchronized again, though only its window
    matters (the sync guide's own full sync starts at timeMin)."""
    from tests.providers.google.conftest import someone_elses
    from tests.sync.calendars import sync_run

    settings = google_settings(google, tmp_path, page_size=50, max_sync_rounds=4)
    made = start(settings, clock)
    try:
        for day in range(1, 29):
            for month in range(1, 13):
                old = someone_elses(day, 10, month=month)
                for key in ("start", "end"):  # the room's bookings of 2021
                    old[key]["dateTime"] = old[key]["dateTime"].replace("2026-", "2021-")
                google.put_event(ROOM, old)
        google.put_event(ROOM, someone_elses(7, 10, month=12))
        result = sync_run(made)
        assert result.error == ""
        assert len(_live(made)) == 1
    finally:
        made.close()


def test_a_google_key_that_is_json_null_is_a_clear_configuration_error(tmp_path, monkeypatch):
    """A key variable holding `null` (or a number) is not a service account key: checking
    the connection crashes with TypeError instead of saying so."""
    from calsync.errors import ConfigError

    monkeypatch.setenv("CALSYNC_TEST_GOOGLE_KEY", "null")
    settings = parse(
        {
            "connections": {
                "workspace": {
                    "kind": "google",
                    "subject": "admin@example.com",
                    "service_account_env": "CALSYNC_TEST_GOOGLE_KEY",
                }
            }
        }
    )
    with pytest.raises(ConfigError):
        settings.connections["workspace"].check_secrets()


def test_an_occurrence_cancelled_in_calsync_after_alice_changed_it_leaves_google(google, services):
    """Alice renames one occurrence of her series, then calsync cancels it before reading
    that change. The delete meets her version: her change is applied and the delete is
    sent over it. The version applied went to the cancelled reservation only (each
    instance is an object of its own), and the delete was based on the one it held
    before: it met her change again each time, and was retried for ever."""
    from calsync.sync import reservations as reservation_service
    from tests.providers.google.conftest import someone_elses
    from tests.sync.calendars import sync

    series = google.put_event(
        ROOM, someone_elses(7, 10, month=12, recurrence=["RRULE:FREQ=DAILY;COUNT=3"])
    )
    sync(services)
    drain(services)
    third = f"{series['id']}_20261209T090000Z"
    google.patch_event(ROOM, third, {"summary": "Planning, the last one"})
    made = sorted(reservations(services), key=lambda r: r.start)
    reservation_service.cancel(services, made[2].id)
    drain(services)
    assert google.event(ROOM, third)["status"] == "cancelled"
    assert [(e.action, e.state) for e in _events(services, action="delete")] == [
        ("delete", "processed")
    ]
