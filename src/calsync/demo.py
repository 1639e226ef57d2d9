"""`calsync demo`: a realistic week on a real CalDAV server, synchronized both ways.

Starts Radicale on a free loopback port with a throw-away store, creates three room
calendars and one desk, books a week the way people do in their calendar apps (a weekly
series with a moved and a cancelled occurrence, an all-day booking, a clash that the room
declines), synchronizes, changes both sides (an edit and a deletion in the calendar, a new
and a cancelled reservation in calsync), synchronizes again and prints what happened.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from calsync.bootstrap import Services, start
from calsync.config import parse
from calsync.exports import reservation_json, synchronization_json
from calsync.providers.caldav import CalDAVProvider
from calsync.radicale_server import RadicaleServer
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationFilter
from calsync.sync import reservations as reservation_service
from calsync.tables import deltas_table, reservations_table, short_id
from calsync.worker.runner import request_sync, run_once

ZONE = "Europe/Berlin"
ROOMS = {
    "Boardroom": ("/rooms/boardroom/", "boardroom@example.com"),
    "Focus Room": ("/rooms/focus-room/", "focus-room@example.com"),
    "Huddle": ("/rooms/huddle/", "huddle@example.com"),
    "Desk 4.12": ("/desks/desk-4-12/", "desk-4-12@example.com"),
}


def run_demo(console: Console, keep: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="calsync-demo-") as scratch:
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        with RadicaleServer(folder / "radicale") as server:
            console.print(f"Radicale is serving {server.url} (store: {folder / 'radicale'})")
            services = start(_settings(server.url, folder / "calsync.db"))
            try:
                _play(console, services)
            finally:
                services.close()
    console.print("[green]demo finished[/green]: the server is stopped")


def _settings(url: str, database: Path) -> Any:
    items = []
    for name, (calendar, address) in ROOMS.items():
        kind = "desk" if name.startswith("Desk") else "room"
        items.append(
            {
                "name": name,
                "kind": kind,
                "time_zone": ZONE,
                "capacity": 1 if kind == "desk" else 8,
                "location": {"site": "HQ", "building": "North", "floor": "4"},
                "policy": {"max_duration_hours": 10},
                "binding": {"connection": "demo", "calendar": calendar, "room_address": address},
            }
        )
    return parse(
        {
            "database": {"url": f"sqlite:///{database}"},
            "connections": {"demo": {"kind": "caldav", "url": url}},
            "items": items,
        }
    )


def _play(console: Console, services: Services) -> None:
    provider = services.provider("demo")
    assert isinstance(provider, CalDAVProvider)
    monday = _next_monday(services.clock().date())
    for name, (calendar, _) in ROOMS.items():
        provider.make_calendar(calendar, name)
    hrefs = _book_the_week(provider, monday)
    console.rule("1. people booked the week in their calendars; calsync synchronizes")
    _synchronize_all(services)

    console.rule("2. both sides change; calsync synchronizes again")
    _change_both_sides(console, services, provider, hrefs, monday)
    _synchronize_all(services)

    _print_deltas(console, services)
    _print_reservations(console, services)


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _book_the_week(provider: CalDAVProvider, monday: date) -> dict[str, str]:
    entries = {
        "standup": ("Boardroom", _series(monday)),
        "offsite": ("Focus Room", _all_day("offsite", monday + timedelta(days=2), "Offsite prep")),
        "review": (
            "Huddle",
            _meeting("review", monday + timedelta(days=1), "140000", "150000", "Design review"),
        ),
        "clash": (
            "Huddle",
            _meeting(
                "clash",
                monday + timedelta(days=1),
                "143000",
                "153000",
                "Sales sync",
                booked="20260102T000000Z",
            ),
        ),
        "hotdesk": (
            "Desk 4.12",
            _meeting("hotdesk", monday + timedelta(days=3), "090000", "170000", "Desk day"),
        ),
        "one-on-one": (
            "Boardroom",
            _meeting("one-on-one", monday + timedelta(days=4), "110000", "113000", "1:1"),
        ),
    }
    hrefs = {}
    for uid, (room, body) in entries.items():
        calendar, address = ROOMS[room]
        hrefs[uid] = provider.create(calendar, uid, _wrap(body, address)).provider_id
    return hrefs


def _change_both_sides(
    console: Console,
    services: Services,
    provider: CalDAVProvider,
    hrefs: dict[str, str],
    monday: date,
) -> None:
    boardroom, boardroom_address = ROOMS["Boardroom"]
    moved = _meeting(
        "one-on-one", monday + timedelta(days=4), "150000", "160000", "1:1 (moved)", sequence=1
    )
    provider.update(boardroom, hrefs["one-on-one"], _wrap(moved, boardroom_address), None)
    console.print("calendar: the 1:1 in the Boardroom moved to 15:00")
    provider.delete(ROOMS["Focus Room"][0], hrefs["offsite"], None)
    console.print("calendar: the all-day offsite prep in the Focus Room was deleted")
    friday = datetime.combine(monday + timedelta(days=4), datetime.min.time(), UTC)
    made = reservation_service.create(
        services,
        "Desk 4.12",
        friday + timedelta(hours=8),
        friday + timedelta(hours=16),
        "Hot desk",
        "bob@example.com",
    )
    console.print(f"calsync: new reservation {short_id(made.id)} of Desk 4.12 on Friday")
    with services.uow() as uow:
        desk_day = next(
            r for r in uow.reservations.find(ReservationFilter(limit=1000)) if r.uid == "hotdesk"
        )
    reservation_service.cancel(services, desk_day.id, "cancelled at the front desk in calsync")
    console.print("calsync: Thursday's desk day on Desk 4.12 was cancelled")


def _synchronize_all(services: Services) -> None:
    for name in ROOMS:
        request_sync(services, name)
    while run_once(services):
        pass  # reads, then the room's answers and the outbound writes they queued


def _print_deltas(console: Console, services: Services) -> None:
    with services.uow() as uow:
        names = uow.items.names()
        rows = [
            synchronization_json(s, names[s.item_id])
            for s in uow.synchronizations.find(RecordFilter(limit=100))
        ]
        events = uow.events.find(RecordFilter(limit=10_000))
    console.print(deltas_table(list(reversed(rows))))
    counts: dict[str, int] = {}
    for event in events:
        counts[f"{event.action}/{event.state}"] = counts.get(f"{event.action}/{event.state}", 0) + 1
    console.print(
        "events by action/state: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )


def _print_reservations(console: Console, services: Services) -> None:
    with services.uow() as uow:
        rows = [reservation_json(r) for r in uow.reservations.find(ReservationFilter(limit=1000))]
    console.print(reservations_table(rows))


def _wrap(vevent: str, room_address: str) -> bytes:
    vevent = vevent.replace(
        "END:VEVENT",
        f"ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:{room_address}\r\nEND:VEVENT",
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp//Calendar App//EN\r\n"
        f"{vevent}END:VCALENDAR\r\n"
    ).encode()


def _meeting(
    uid: str,
    day: date,
    start: str,
    end: str,
    summary: str,
    sequence: int = 0,
    booked: str = "20260101T000000Z",
) -> str:
    d = day.strftime("%Y%m%d")
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{booked}\r\nSEQUENCE:{sequence}\r\n"
        f"DTSTART;TZID={ZONE}:{d}T{start}\r\nDTEND;TZID={ZONE}:{d}T{end}\r\n"
        f"SUMMARY:{summary}\r\nORGANIZER:mailto:alice@example.com\r\nEND:VEVENT\r\n"
    )


def _all_day(uid: str, day: date, summary: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{day.strftime('%Y%m%d')}\r\n"
        f"DTEND;VALUE=DATE:{(day + timedelta(days=1)).strftime('%Y%m%d')}\r\n"
        f"SUMMARY:{summary}\r\nORGANIZER:mailto:carol@example.com\r\nEND:VEVENT\r\n"
    )


def _series(monday: date) -> str:
    """Weekly standup: the second week moved to Tuesday 10:00, the third cancelled."""
    second = (monday + timedelta(weeks=1)).strftime("%Y%m%d")
    second_moved = (monday + timedelta(weeks=1, days=1)).strftime("%Y%m%d")
    third = (monday + timedelta(weeks=2)).strftime("%Y%m%d")
    return (
        _meeting("standup", monday, "090000", "093000", "Team standup").replace(
            "END:VEVENT",
            f"RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID={ZONE}:{third}T090000\r\nEND:VEVENT",
        )
        + "BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20260101T000000Z\r\n"
        f"RECURRENCE-ID;TZID={ZONE}:{second}T090000\r\n"
        f"DTSTART;TZID={ZONE}:{second_moved}T100000\r\nDTEND;TZID={ZONE}:{second_moved}T103000\r\n"
        f"SUMMARY:Team standup (moved)\r\nORGANIZER:mailto:alice@example.com\r\nEND:VEVENT\r\n"
    )
