"""Review: a series approved as a whole on every calendar service."""

from __future__ import annotations

import pytest

from calsync.domain.reservations import ReservationStatus
from calsync.sync.approvals import decide_approvals
from tests.sync.behaviour.test_approvals import BOSS, _waiting, services  # noqa: F401
from tests.sync.behaviour.test_behaviour import side  # noqa: F401 - the fixture
from tests.sync.calendars import drain, reservations, sync

pytestmark = pytest.mark.radicale


def test_a_series_approved_whole_confirms_every_occurrence(side, services):  # noqa: F811
    """`--whole-series` (API `whole_series`): "decide every waiting occurrence of the same
    series too". Siblings are looked for under the approved occurrence's provider id; on
    Google each instance is an event of its own id, so only the one named is decided."""
    side.meeting("weekly", 3, 10, count=4)
    sync(services)
    drain(services)
    waiting = _waiting(services)
    assert len(waiting) == 4
    decide_approvals(services, [waiting[0].id], BOSS, approve=True, whole_series=True)
    series = [r for r in reservations(services) if r.uid == "weekly"]
    assert {r.status for r in series} == {ReservationStatus.confirmed}, sorted(
        r.status for r in series
    )
