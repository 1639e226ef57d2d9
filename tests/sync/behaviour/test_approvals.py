"""Approvals on every calendar service: CalDAV on Radicale and Google Calendar on its
emulator. The decision reaches the organizer's calendar through the seam's "answer as
the room", never through provider-specific code."""

from __future__ import annotations

import pytest

from calsync.bootstrap import start
from calsync.config import parse
from calsync.domain.approvals import ApprovalState, Identity
from calsync.domain.reservations import ReservationStatus
from calsync.store.approvals import ApprovalFilter
from calsync.sync.approvals import decide_approvals, expire_due
from tests.sync.behaviour.test_behaviour import side  # noqa: F401 - the fixture
from tests.sync.calendars import drain, reservations, sync

pytestmark = pytest.mark.radicale

BOSS = Identity("boss@example.com")


@pytest.fixture
def services(side, database_url, clock, tmp_path):  # noqa: F811 - the fixture
    made = start(_settings(side, database_url, tmp_path), clock)
    yield made
    made.close()


@pytest.fixture
def strict_series(side, database_url, clock, tmp_path):  # noqa: F811 - the fixture
    """Room A declining a series whole when more than 10% of it conflicts."""
    policies = {"policies": {"defaults": {"series_max_conflict_percent": 10}}}
    made = start(_settings(side, database_url, tmp_path, policies), clock)
    yield made
    made.close()


def _settings(side, database_url, tmp_path, more=None):  # noqa: F811 - the fixture
    return parse(
        {
            "database": {"url": database_url},
            "sync": {"backoff_seconds": 1.0, "max_attempts": 3},
            "connections": {"calendar": side.connection(tmp_path)},
            "items": [
                {
                    "name": "Room A",
                    "time_zone": "Europe/Berlin",
                    "binding": {"connection": "calendar", **side.binding()},
                }
            ],
            "approval_rules": [
                {"name": "board", "items": ["Room A"], "performer": {"person": "boss@example.com"}}
            ],
            **(more or {}),
        }
    )


def _answers(side) -> dict[str, str]:  # noqa: F811
    return {uid: answer for (uid, _), (_, _, answer) in side.held().items()}


def _waiting(services):
    with services.read() as uow:
        return uow.approvals.find(ApprovalFilter(ApprovalState.pending))


def _status(services) -> str:
    [reservation] = reservations(services)
    return reservation.status


def test_a_booking_waiting_for_approval_shows_tentative_then_accepted(side, services):  # noqa: F811
    side.meeting("m1", 3, 10)
    sync(services)
    drain(services)
    assert _status(services) == ReservationStatus.pending_approval
    assert _answers(side) == {"m1": "TENTATIVE"}
    [waiting] = _waiting(services)
    decide_approvals(services, [waiting.id], BOSS, approve=True)
    drain(services)
    assert _status(services) == ReservationStatus.confirmed
    assert _answers(side) == {"m1": "ACCEPTED"}
    sync(services)  # the answer read back changes nothing
    assert _status(services) == ReservationStatus.confirmed


def test_a_rejected_booking_shows_declined(side, services):  # noqa: F811
    side.meeting("m1", 3, 10)
    sync(services)
    [waiting] = _waiting(services)
    decide_approvals(services, [waiting.id], BOSS, approve=False, reason="board meeting")
    drain(services)
    assert _status(services) == ReservationStatus.declined
    assert _answers(side) == {"m1": "DECLINED"}


def test_an_expired_request_shows_declined(side, services, clock):  # noqa: F811
    side.meeting("m1", 3, 10)
    sync(services)
    clock.advance(hours=49)
    assert len(expire_due(services).expired) == 1
    drain(services)
    assert _status(services) == ReservationStatus.declined
    assert _answers(side) == {"m1": "DECLINED"}


def test_a_booking_cancelled_in_the_calendar_withdraws_its_request(side, services):  # noqa: F811
    side.meeting("m1", 3, 10)
    sync(services)
    side.delete("m1")
    sync(services)
    assert _waiting(services) == []
    assert _status(services) == ReservationStatus.cancelled


def test_a_series_with_too_many_conflicts_is_declined_whole(side, strict_series, request):  # noqa: F811
    if side.kind == "google":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="known gap: Google lists each instance of a series as an event of its "
                "own, judged alone; the series' own rule (declined whole above its share of "
                "conflicts) is applied only where the calendar hands over the series itself",
            )
        )
    side.meeting("taken", 4, 10)
    sync(strict_series)
    side.meeting("daily", 3, 10, count=5)  # 1 of its 5 conflicts: 20%
    sync(strict_series)
    drain(strict_series)
    daily = [r for r in reservations(strict_series) if r.uid == "daily"]
    assert len(daily) == 5
    assert {r.status for r in daily} == {ReservationStatus.declined}
