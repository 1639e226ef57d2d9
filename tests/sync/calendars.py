"""Building blocks for the service-layer tests: iCalendar text and one-call synchronizations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calsync.domain.reservations import Reservation
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationFilter
from calsync.sync import reservations as reservation_service
from calsync.worker.runner import RunResult, request_sync, run_event, run_once

ROOM = "room-a@example.com"


def vevent(
    uid: str,
    start: str,
    end: str,
    summary: str = "Meeting",
    extra: str = "",
    sequence: int = 0,
    zone: str = "Europe/Berlin",
) -> str:
    return (
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T120000Z\r\nSEQUENCE:{sequence}\r\n"
        f"DTSTART;TZID={zone}:{start}\r\nDTEND;TZID={zone}:{end}\r\n"
        f"SUMMARY:{summary}\r\nORGANIZER:mailto:alice@example.com\r\n"
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{ROOM}\r\n{extra}"
        "END:VEVENT\r\n"
    )


def ics(*vevents: str, preamble: str = "") -> bytes:
    body = "".join(vevents)
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\n{preamble}{body}END:VCALENDAR\r\n"
    ).encode()


def book(provider, calendar: str, uid: str, day: int, hour: int = 10) -> str:
    """A one-hour meeting in December 2026 (Berlin time) booked in the calendar; its href."""
    start, end = f"202612{day:02d}T{hour:02d}0000", f"202612{day:02d}T{hour + 1:02d}0000"
    return provider.create(
        calendar, uid, ics(vevent(uid, start, end, f"Meeting {uid}"))
    ).provider_id


def reserve(services, subject: str) -> Reservation:
    """A reservation made in calsync: Room A, 5 December 2026, 09:00-10:00 UTC."""
    return reservation_service.create(
        services,
        "Room A",
        datetime(2026, 12, 5, 9, tzinfo=UTC),
        datetime(2026, 12, 5, 10, tzinfo=UTC),
        subject,
    )


def room_settings(calendar: str, **binding: object) -> list[dict[str, object]]:
    return [
        {
            "name": "Room A",
            "time_zone": "Europe/Berlin",
            "binding": {"connection": "dav", "calendar": calendar, "room_address": ROOM, **binding},
        }
    ]


def claim(services, event_id: int) -> int:
    with services.uow() as uow:
        uow.events.claim_one(event_id, services.clock(), timedelta(minutes=5))
        uow.commit()
    return event_id


def sync_run(services, full: bool = False, confirm_sweep: bool = False) -> RunResult:
    return run_event(
        services, claim(services, request_sync(services, "Room A", full, confirm_sweep))
    )


def sync(services, full: bool = False, confirm_sweep: bool = False):
    result = sync_run(services, full, confirm_sweep)
    assert result.error == "", result.error
    return result.synchronization


def reservations(services, status: str | None = None):
    with services.uow() as uow:
        return uow.reservations.find(ReservationFilter(status=status, limit=10_000))


def drain(services) -> None:
    while run_once(services):
        pass


def third_cancelled_in_calsync_then_renamed(services, organizer, calendar: str):
    """Someone's daily series of three, synchronized; calsync cancels its third occurrence
    (the EXDATE waits in the outbox); then the organizer renames the series. Returns the
    series' href and the third occurrence's reservation."""
    rule = "RRULE:FREQ=DAILY;COUNT=3\r\n"
    href = organizer.create(
        calendar, "s1", ics(vevent("s1", "20261207T100000", "20261207T110000", extra=rule))
    ).provider_id
    sync(services)
    drain(services)
    third = max(reservations(services), key=lambda r: r.start)
    reservation_service.cancel(services, third.id)
    renamed = vevent("s1", "20261207T100000", "20261207T110000", "Renamed", rule, sequence=1)
    organizer.update(calendar, href, ics(renamed), None)
    return href, third


def answer_states(services) -> list[str]:
    """The states of the room's answers (respond events), sorted."""
    with services.uow() as uow:
        return sorted(e.state for e in uow.events.find(RecordFilter(action="respond", limit=100)))


def partstats(organizer, calendar: str) -> dict[str, str]:
    """The room's PARTSTAT in each entry of the calendar, by UID."""
    found = {}
    for change in organizer.fetch_changes(calendar, None).changes:
        data = (change.data or b"").replace(b"\r\n ", b"").decode()
        uid = data.split("UID:", 1)[1].split("\r\n", 1)[0]
        found[uid] = data.split("PARTSTAT=", 1)[1].split(";", 1)[0].split(":", 1)[0]
    return found
