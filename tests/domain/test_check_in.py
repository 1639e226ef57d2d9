"""Check-in, check-out and no-shows: every rule, its refusal and what it says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from calsync.domain.check_in import check_in, check_out, is_no_show, no_shows, release
from calsync.domain.items import BookingPolicy
from calsync.domain.reservations import Origin, Reservation, ReservationStatus
from calsync.errors import CheckInRefused

START = datetime(2026, 12, 3, 9, tzinfo=UTC)
REQUIRED = BookingPolicy(check_in_required=True)
OPTIONAL = BookingPolicy()


def reservation(**changes) -> Reservation:
    made = Reservation(
        id="r1",
        item="Desk 1",
        start=START,
        end=START + timedelta(hours=1),
        status=ReservationStatus.confirmed,
        origin=Origin.workplace,
        uid="r1@calsync",
    )
    return replace(made, **changes)


def minutes(n: float) -> datetime:
    return START + timedelta(minutes=n)


# --- check-in ------------------------------------------------------------------------------


@pytest.mark.parametrize("at", [-15, 0, 14, 59.9])
def test_check_in_is_open_from_its_margin_before_the_start_until_the_end(at):
    assert check_in(reservation(), REQUIRED, minutes(at)).checked_in_at == minutes(at)


def test_check_in_before_its_margin_is_too_early_and_says_when_it_opens():
    with pytest.raises(
        CheckInRefused, match=r"too early.*opens at 2026-12-03 08:45 UTC, 15 minutes"
    ):
        check_in(reservation(), REQUIRED, minutes(-15.5))


def test_the_margin_is_the_policys():
    policy = BookingPolicy(check_in_opens=timedelta(hours=1))
    assert check_in(reservation(), policy, minutes(-60)).checked_in_at == minutes(-60)
    with pytest.raises(CheckInRefused, match="1 hour before its start"):
        check_in(reservation(), policy, minutes(-61))


def test_check_in_after_the_end_is_refused():
    with pytest.raises(CheckInRefused, match="already ended at 2026-12-03 10:00 UTC"):
        check_in(reservation(), REQUIRED, minutes(60))


def test_check_in_twice_is_refused_with_the_first_time():
    once = check_in(reservation(), REQUIRED, minutes(1))
    with pytest.raises(CheckInRefused, match="already checked in at 2026-12-03 09:01 UTC"):
        check_in(once, REQUIRED, minutes(2))


@pytest.mark.parametrize(
    "status",
    [ReservationStatus.cancelled, ReservationStatus.declined, ReservationStatus.conflicted],
)
def test_only_a_reservation_that_holds_its_item_is_checked_in(status):
    with pytest.raises(CheckInRefused, match=f"is {status.value}: only one that holds its item"):
        check_in(reservation(status=status), REQUIRED, minutes(0))


@pytest.mark.parametrize(
    "status", [ReservationStatus.pending_approval, ReservationStatus.awaiting_confirmation]
)
def test_a_reservation_holding_its_item_before_confirmation_is_checked_in(status):
    assert check_in(reservation(status=status), REQUIRED, minutes(0)).checked_in_at is not None


def test_a_released_no_show_says_so_when_checked_in_late():
    gone = release(reservation(), REQUIRED, minutes(20))
    with pytest.raises(CheckInRefused, match="released as a no-show at 2026-12-03 09:20 UTC"):
        check_in(gone, REQUIRED, minutes(21))


def test_a_released_no_show_its_organizer_booked_again_holds_and_is_checked_in():
    gone = release(reservation(), REQUIRED, minutes(20))
    revived = replace(gone, status=ReservationStatus.confirmed, start=minutes(60), end=minutes(120))
    assert check_in(revived, REQUIRED, minutes(50)).checked_in_at == minutes(50)


def test_a_check_in_after_the_grace_period_still_counts_until_the_release():
    late = check_in(reservation(), REQUIRED, minutes(30))
    assert not is_no_show(late, REQUIRED, minutes(31))


# --- check-out -----------------------------------------------------------------------------


def test_a_check_out_ends_the_reservation_at_the_next_whole_minute():
    checked_in = check_in(reservation(), REQUIRED, minutes(0))
    out = check_out(checked_in, REQUIRED, minutes(20.5))
    assert out.end == minutes(21)
    assert out.checked_out_at == minutes(20.5)
    assert out.start == START
    assert out.status == ReservationStatus.confirmed


def test_a_check_out_on_a_whole_minute_ends_it_then():
    assert check_out(reservation(), OPTIONAL, minutes(20)).end == minutes(20)


def test_a_check_out_at_the_start_leaves_one_minute():
    assert check_out(reservation(), OPTIONAL, START).end == minutes(1)


def test_a_check_out_in_the_last_minute_keeps_the_end():
    assert check_out(reservation(), OPTIONAL, minutes(59.5)).end == minutes(60)


def test_a_check_out_before_the_start_is_refused():
    with pytest.raises(CheckInRefused, match="has not started: it starts at 2026-12-03 09:00 UTC"):
        check_out(reservation(), OPTIONAL, minutes(-1))


def test_a_check_out_after_the_end_is_refused():
    with pytest.raises(CheckInRefused, match="already ended"):
        check_out(reservation(), OPTIONAL, minutes(61))


def test_a_check_out_twice_is_refused():
    out = check_out(reservation(), OPTIONAL, minutes(10))
    with pytest.raises(CheckInRefused, match="already checked out at 2026-12-03 09:10 UTC"):
        check_out(out, OPTIONAL, minutes(10.5))
    with pytest.raises(CheckInRefused, match="already checked out"):
        check_in(out, OPTIONAL, minutes(10.5))


def test_where_check_in_is_required_a_check_out_needs_one_first():
    with pytest.raises(CheckInRefused, match="not checked in: Desk 1 needs a check-in"):
        check_out(reservation(), REQUIRED, minutes(10))


def test_where_check_in_is_optional_a_check_out_needs_none():
    assert check_out(reservation(), OPTIONAL, minutes(10)).checked_in_at is None


def test_a_cancelled_reservation_is_not_checked_out():
    with pytest.raises(CheckInRefused, match="is cancelled"):
        check_out(reservation(status=ReservationStatus.cancelled), OPTIONAL, minutes(10))


def test_an_all_day_reservation_checked_out_early_becomes_a_timed_one():
    day = reservation(
        all_day=True, start=START.replace(hour=0), end=START.replace(hour=0) + timedelta(days=1)
    )
    out = check_out(day, OPTIONAL, minutes(0))
    assert (out.end, out.all_day) == (START, False)


# --- no-shows ------------------------------------------------------------------------------


def test_a_reservation_not_checked_in_within_the_grace_period_is_a_no_show():
    assert not is_no_show(reservation(), REQUIRED, minutes(14.9))
    assert is_no_show(reservation(), REQUIRED, minutes(15))


def test_the_grace_period_is_the_policys():
    policy = BookingPolicy(check_in_required=True, no_show_after=timedelta(minutes=5))
    assert is_no_show(reservation(), policy, minutes(5))


def test_no_reservation_is_a_no_show_where_check_in_is_not_required():
    assert not is_no_show(reservation(), OPTIONAL, minutes(30))


def test_a_checked_in_reservation_is_no_no_show():
    assert not is_no_show(check_in(reservation(), REQUIRED, minutes(-5)), REQUIRED, minutes(30))


def test_an_ended_reservation_is_not_released():
    assert not is_no_show(reservation(), REQUIRED, minutes(60))


def test_a_reservation_that_no_longer_holds_its_item_is_not_released():
    assert not is_no_show(reservation(status=ReservationStatus.declined), REQUIRED, minutes(30))


def test_no_shows_picks_those_released_now():
    late = reservation(id="late")
    here = check_in(reservation(id="here"), REQUIRED, minutes(0))
    later = reservation(id="later", start=minutes(30), end=minutes(90))
    assert [r.id for r in no_shows([late, here, later], REQUIRED, minutes(20))] == ["late"]


def test_a_release_cancels_the_reservation_and_says_why_and_when():
    gone = release(reservation(), REQUIRED, minutes(16))
    assert gone.status == ReservationStatus.cancelled
    assert gone.reason == "released as a no-show: not checked in within 15 minutes of its start"
    assert gone.no_show_released_at == minutes(16)
    assert (gone.start, gone.end) == (START, START + timedelta(hours=1))


def test_what_is_no_no_show_is_not_released():
    with pytest.raises(CheckInRefused, match="is not a no-show"):
        release(reservation(), REQUIRED, minutes(10))


def test_check_in_facts_take_no_part_in_comparing_what_the_calendar_holds():
    assert check_in(reservation(), REQUIRED, minutes(0)) == reservation()
