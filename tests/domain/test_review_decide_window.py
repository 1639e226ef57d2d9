"""Review: the room's per-occurrence declines judged against overrides outside the window."""

from __future__ import annotations

from datetime import timedelta

from calsync.domain.occupancy import Occupancy
from calsync.domain.reservations import ReservationStatus
from tests.domain.test_decide_approvals import NOW, WINDOW, decide, ids, meeting, room


def test_a_declined_occurrence_that_slid_out_of_the_window_asks_for_no_new_answer():
    """A series accepted last month with one occurrence declined (its override shows the
    room DECLINED). That occurrence is now before the window's start: the reader no longer
    yields it, but the object still carries its override. Reading the unchanged object
    again must plan no answer; otherwise every read of the series rewrites it."""
    first = NOW + timedelta(days=1)
    spans = [(first + timedelta(weeks=n), first + timedelta(weeks=n, hours=1)) for n in range(4)]
    created = decide(meeting("s", *spans), [], room(), Occupancy(), NOW, ids()).actions
    existing = [c.reservation for c in created]
    assert {r.status for r in existing} == {ReservationStatus.confirmed}
    past = WINDOW.start - timedelta(days=7)
    again = meeting("s", *spans, partstat="ACCEPTED", overrides=[(past, "DECLINED")])
    plan = decide(again, existing, room(), Occupancy(), NOW, ids())
    assert plan.actions == ()
    assert plan.room_partstat is None, (plan.room_partstat, plan.room_declines)
