"""Review: what one daily series costs when the room declines its conflicts one by one."""

from __future__ import annotations

from datetime import timedelta

from calsync.domain.occupancy import Occupancy
from tests.domain.test_decide_approvals import NOW, decide, ids, meeting, room


def test_a_daily_series_conflicting_almost_every_day_is_not_accepted_with_hundreds_of_declines():
    """A daily series for a year in a room already held at that hour every day but one.
    Under the default policy (no series limit set) the room ACCEPTS the series and
    declines 364 occurrences one by one: 364 overrides, each a copy of the master with
    all its attendees, written into the organizer's object. Exchange's own default
    (MaximumConflictInstances 0) declines such a series whole; at the least the number of
    one-by-one declines should be bounded."""
    first = NOW + timedelta(days=1)
    spans = [(first + timedelta(days=n), first + timedelta(days=n, hours=1)) for n in range(365)]
    occupancy = Occupancy()
    for n, (start, end) in enumerate(spans[1:]):
        occupancy.hold(start, end, f"standup-{n}")
    plan = decide(meeting("daily", *spans), [], room(), occupancy, NOW, ids())
    assert plan.room_partstat == "DECLINED" or len(plan.room_declines) <= 50, (
        plan.room_partstat,
        len(plan.room_declines),
    )
