"""DESIGN invariants 1 and 2 as a property: whatever people do on either side, after a
synchronization the calendar and the reservations agree, and no item is double booked.

A Hypothesis state machine (as vdirsyncer's SyncMachine) books, moves and deletes
meetings in the calendar, books and cancels in calsync, lets the server forget its delta
keys, and synchronizes; the in-memory provider keeps it fast (it passes the same
contract suite as the CalDAV adapter).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from contextlib import suppress
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.entries import Window
from calsync.domain.reservations import Origin, ReservationStatus
from calsync.errors import DoubleBooking
from calsync.providers.ical.reader import read_calendar_object
from calsync.providers.memory import InMemoryProvider
from calsync.store.records import RecordFilter
from calsync.store.reservations import ReservationFilter
from calsync.sync import reservations as reservation_service
from calsync.sync.reservations import PolicyViolation
from calsync.worker.runner import request_sync, run_now, run_once
from tests.conftest import Clock
from tests.sync.calendars import ics, vevent

CALENDAR = "/rooms/a/"
NOW = datetime(2026, 12, 1, 7, tzinfo=UTC)
days = st.integers(2, 4)
hours = st.integers(8, 16)


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="calsync-convergence-")
        self.services = start(
            parse(
                {
                    "database": {"url": f"sqlite:///{self.folder}/calsync.db"},
                    "connections": {"dav": {"kind": "caldav", "url": "http://calendar.test"}},
                    "items": [
                        {
                            "name": "Room A",
                            "time_zone": "Europe/Berlin",
                            "binding": {
                                "connection": "dav",
                                "calendar": CALENDAR,
                                "room_address": "room-a@example.com",
                            },
                        }
                    ],
                }
            ),
            Clock(NOW),
        )
        self.provider = InMemoryProvider()
        self.provider.make_calendar(CALENDAR)
        self.services.providers["dav"] = self.provider
        self.names = itertools.count()

    def teardown(self) -> None:
        self.services.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # the calendar side -------------------------------------------------------------

    def _live(self):
        return self.provider.fetch_changes(CALENDAR, None).changes

    @rule(day=days, hour=hours)
    def book_in_the_calendar(self, day: int, hour: int) -> None:
        uid = f"m{next(self.names)}"
        start, end = f"202612{day:02d}T{hour:02d}0000", f"202612{day:02d}T{hour + 1:02d}0000"
        self.provider.create(CALENDAR, uid, ics(vevent(uid, start, end, uid)))

    @precondition(lambda self: self._live())
    @rule(data=st.data(), day=days, hour=hours)
    def move_in_the_calendar(self, data: st.DataObject, day: int, hour: int) -> None:
        change = data.draw(st.sampled_from(self._live()))
        text = (change.data or b"").decode()
        uid = text.split("UID:")[1].split("\r\n")[0]
        start, end = f"202612{day:02d}T{hour:02d}0000", f"202612{day:02d}T{hour + 1:02d}0000"
        moved = ics(vevent(uid, start, end, uid, sequence=next(self.names) + 1))
        self.provider.update(CALENDAR, change.provider_id, moved, change.version)

    @precondition(lambda self: self._live())
    @rule(data=st.data())
    def delete_in_the_calendar(self, data: st.DataObject) -> None:
        change = data.draw(st.sampled_from(self._live()))
        self.provider.delete(CALENDAR, change.provider_id, change.version)

    @rule()
    def the_server_forgets_its_delta_keys(self) -> None:
        self.provider.expire_delta_keys(CALENDAR)

    # the calsync side ----------------------------------------------------------------

    def _holding(self):
        with self.services.uow() as uow:
            return [
                r for r in uow.reservations.find(ReservationFilter(limit=10_000)) if r.holds_item
            ]

    @rule(day=days, hour=hours)
    def book_in_calsync(self, day: int, hour: int) -> None:
        start = datetime(2026, 12, day, hour, tzinfo=UTC)
        with suppress(PolicyViolation, DoubleBooking):  # taken then: refused, nothing to sync
            reservation_service.create(self.services, "Room A", start, start + timedelta(hours=1))

    @precondition(lambda self: self._holding())
    @rule(data=st.data(), day=days, hour=hours)
    def move_in_calsync(self, data: st.DataObject, day: int, hour: int) -> None:
        reservation = data.draw(st.sampled_from(self._holding()))
        start = datetime(2026, 12, day, hour, tzinfo=UTC)
        with suppress(PolicyViolation, DoubleBooking):
            reservation_service.update(
                self.services, reservation.id, start=start, end=start + timedelta(hours=1)
            )

    @precondition(lambda self: self._holding())
    @rule(data=st.data())
    def cancel_in_calsync(self, data: st.DataObject) -> None:
        reservation = data.draw(st.sampled_from(self._holding()))
        reservation_service.cancel(self.services, reservation.id)

    # synchronizing, and what must then hold ------------------------------------------------

    @rule()
    def synchronize(self) -> None:
        for _ in range(4):  # reads, the room's answers, and reading those answers back
            # Time passes: an outbound event that failed and waits for its retry is due.
            self.services.clock.advance(minutes=20)
            request_sync(self.services, "Room A")
            self._drain()
        if self._sweep_held():
            request_sync(self.services, "Room A", full=True, confirm_sweep=True)  # the admin
            self._drain()
        self._assert_converged()

    @rule()
    def read_while_the_rooms_answers_wait(self) -> None:
        """A read whose room answers are not sent yet: the organizer may edit meanwhile."""
        run_now(self.services, request_sync(self.services, "Room A"))

    def _drain(self) -> None:
        while run_once(self.services):
            pass

    def _sweep_held(self) -> bool:
        with self.services.uow() as uow:
            latest = uow.synchronizations.find(RecordFilter(limit=1))
        return bool(latest) and latest[0].outcome == "needs_confirmation"

    def _assert_converged(self) -> None:
        with self.services.uow() as uow:
            everything = uow.reservations.find(ReservationFilter(limit=10_000))
            failed = uow.events.find(RecordFilter(status="error"))
        assert failed == [], [e.error for e in failed]
        live = {c.provider_id for c in self._live()}
        mirrored = [r for r in everything if r.status != ReservationStatus.cancelled]
        # Every live calendar entry has exactly one reservation (confirmed or declined) ...
        by_entry = {href: [r for r in mirrored if r.provider_id == href] for href in live}
        assert all(len(found) == 1 for found in by_entry.values()), by_entry
        # ... and every live reservation has its calendar entry.
        assert all(r.provider_id in live for r in mirrored), mirrored
        assert all(r.provider_id is not None for r in mirrored if r.origin == Origin.workplace)
        # ... at the time the calendar says (no organizer's change swallowed).
        spans = self._calendar_spans()
        for r in mirrored:
            assert (r.start, r.end) == spans[r.provider_id], (r, spans[r.provider_id])
        # No double booking, whatever happened.
        holding = sorted((r for r in mirrored if r.holds_item), key=lambda r: r.start)
        assert all(a.end <= b.start for a, b in itertools.pairwise(holding)), holding

    def _calendar_spans(self) -> dict[str, tuple[datetime, datetime]]:
        window = Window(NOW - timedelta(days=30), NOW + timedelta(days=365))
        spans = {}
        for change in self._live():
            [occurrence] = read_calendar_object(change.data or b"", "UTC", window).occurrences
            spans[change.provider_id] = (occurrence.start, occurrence.end)
        return spans


Convergence.TestCase.settings = settings(max_examples=40, stateful_step_count=14, deadline=None)
TestConvergence = Convergence.TestCase
