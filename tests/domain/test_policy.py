"""The booking policy: each rule's outcome, the verdict, and where an item's policy comes from."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from calsync.domain.bookings import Booking
from calsync.domain.items import BookingPolicy, ItemKind, Location, WorkingHours, WorkplaceItem
from calsync.domain.occupancy import Occupancy
from calsync.domain.policy import (
    PolicyDefaults,
    PolicyLayer,
    Verdict,
    check,
    evaluate,
    series_conflicts,
)

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)  # a Tuesday
ROOM = WorkplaceItem("Room A", time_zone="Europe/Berlin", location=Location("HQ", "North", "4"))


def at(hour: int, day: int = 3, minute: int = 0) -> datetime:
    """A UTC instant in December 2026; Berlin is UTC+1 then, and the 3rd is a Thursday."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def booking(start=None, end=None, organizer="ann@example.com", recurring=False) -> Booking:
    start = start or at(9)
    return Booking.of(ROOM, start, end or start + timedelta(hours=1), organizer, recurring)


def judge(policy: BookingPolicy, b: Booking | None = None, occupancy=None):
    return evaluate(b or booking(), policy, occupancy or Occupancy(), NOW)


def outcome(decision, rule: str):
    [found] = [o for o in decision.outcomes if o.rule == rule]
    return found


def test_a_booking_that_keeps_every_rule_is_accepted_and_says_which_rules_it_kept():
    decision = judge(BookingPolicy(max_duration=timedelta(hours=8)))
    assert decision.verdict == Verdict.accept
    assert decision.reason == ""
    assert {o.rule for o in decision.outcomes} == {"max_duration", "booking_window", "conflict"}
    assert all(o.kept for o in decision.outcomes)
    assert "the limit is 8 hours" in outcome(decision, "max_duration").reason


def test_a_booking_longer_than_the_maximum_is_declined_naming_the_rule_and_by_how_much():
    decision = judge(BookingPolicy(max_duration=timedelta(hours=2)), booking(at(9), at(12)))
    assert decision.verdict == Verdict.decline
    assert decision.reason == "max_duration: lasts 3 hours, the limit is 2 hours"


def test_a_booking_exactly_as_long_as_the_maximum_is_accepted():
    decision = judge(BookingPolicy(max_duration=timedelta(hours=2)), booking(at(9), at(11)))
    assert decision.verdict == Verdict.accept


def test_a_booking_starting_beyond_the_booking_window_is_declined_with_the_last_day():
    decision = judge(BookingPolicy(booking_window=timedelta(days=30)), booking(at(9, day=31)))
    assert decision.verdict == Verdict.decline
    assert decision.reason == "booking_window: starts after 2026-12-31"
    assert judge(BookingPolicy(booking_window=timedelta(days=30))).verdict == Verdict.accept


def test_no_limits_means_no_duration_or_window_rule_at_all():
    decision = judge(BookingPolicy(booking_window=None), booking(at(9), at(9, day=30)))
    assert decision.verdict == Verdict.accept
    assert [o.rule for o in decision.outcomes] == ["conflict"]


def test_a_booking_ending_before_it_starts_is_declined_and_nothing_else_is_judged():
    decision = judge(BookingPolicy(), booking(at(10), at(9)))
    assert decision.verdict == Verdict.decline
    assert [o.rule for o in decision.outcomes] == ["impossible_times"]


def test_a_conflict_is_declined_naming_the_reservation_it_overlaps():
    decision = judge(BookingPolicy(), occupancy=Occupancy([(at(9, minute=30), at(11), "r7")]))
    assert decision.verdict == Verdict.decline
    assert decision.reason == "conflict: overlaps reservation r7"


def test_an_item_that_allows_conflicts_accepts_an_overlap():
    decision = judge(
        BookingPolicy(allow_conflicts=True), occupancy=Occupancy([(at(9), at(10), "r7")])
    )
    assert decision.verdict == Verdict.accept
    assert "conflict" not in {o.rule for o in decision.outcomes}


WORKING = BookingPolicy(working_hours_only=True)  # 08:00-18:00 Monday to Friday, Berlin time


@pytest.mark.parametrize(
    ("start", "end", "kept"),
    [
        (at(7), at(17), True),  # 08:00-18:00 Berlin: the whole working day
        (at(6, minute=30), at(8), False),  # starts 07:30 Berlin
        (at(16), at(17, minute=30), False),  # ends 18:30 Berlin
        (at(9, day=5), at(10, day=5), False),  # Saturday
        (at(15), at(9, day=4), False),  # overnight, though both ends are in working hours
    ],
)
def test_working_hours_only_accepts_a_booking_within_one_working_day_on_the_items_clock(
    start, end, kept
):
    decision = judge(WORKING, booking(start, end))
    assert outcome(decision, "working_hours").kept is kept
    assert decision.verdict == (Verdict.accept if kept else Verdict.decline)


def test_the_working_hours_reason_shows_the_local_times_and_the_hours():
    decision = judge(WORKING, booking(at(6, minute=30), at(8)))
    assert decision.reason == (
        "working_hours: Thu 2026-12-03 07:30 to Thu 2026-12-03 09:00 (Europe/Berlin) is "
        "outside working hours 08:00-18:00 on Mon, Tue, Wed, Thu, Fri"
    )


def test_working_hours_follow_the_configured_days_and_hours():
    weekend = WorkingHours(time(10), time(14), frozenset({5, 6}))
    policy = BookingPolicy(working_hours_only=True, working_hours=weekend)
    assert judge(policy, booking(at(9, day=5), at(12, day=5))).verdict == Verdict.accept
    assert judge(policy, booking(at(9), at(10))).verdict == Verdict.decline


def test_working_hours_are_not_checked_unless_working_hours_only():
    decision = judge(BookingPolicy(), booking(at(2), at(3)))
    assert decision.verdict == Verdict.accept


def test_a_recurring_meeting_is_declined_where_recurring_meetings_are_not_allowed():
    policy = BookingPolicy(allow_recurring=False)
    decision = judge(policy, booking(recurring=True))
    assert decision.verdict == Verdict.decline
    assert decision.reason == "allow_recurring: recurring meetings are not accepted"
    assert judge(policy, booking(recurring=False)).verdict == Verdict.accept


@pytest.mark.parametrize(
    ("organizer", "verdict"),
    [
        ("ann@example.com", Verdict.accept),  # her domain may book
        ("ANN@Example.com", Verdict.accept),  # letter case does not count
        ("boss@partner.org", Verdict.accept),  # named address
        ("eve@partner.org", Verdict.decline),  # another address at that domain
        ("eve@sub.example.com", Verdict.decline),  # a subdomain is not the domain
        ("", Verdict.decline),  # nobody known
    ],
)
def test_only_those_named_may_book_in_policy(organizer, verdict):
    policy = BookingPolicy(book_in_policy=("example.com", "boss@partner.org"))
    decision = judge(policy, booking(organizer=organizer))
    assert decision.verdict == verdict
    assert outcome(decision, "book_in_policy").kept is (verdict == Verdict.accept)


def test_the_book_in_policy_reason_names_who_may_book():
    decision = judge(BookingPolicy(book_in_policy=("example.com",)), booking(organizer="e@x.org"))
    assert decision.reason == "book_in_policy: e@x.org may not book it (only example.com)"


OUT_OF_POLICY = BookingPolicy(
    max_duration=timedelta(hours=2),
    book_in_policy=("example.com",),
    request_out_of_policy=("boss@partner.org", "example.com"),
)


def test_one_who_may_request_out_of_policy_gets_a_request_instead_of_a_decline():
    long = judge(OUT_OF_POLICY, booking(at(9), at(13)))
    assert long.verdict == Verdict.request
    assert long.reason == "max_duration: lasts 4 hours, the limit is 2 hours"


def test_one_not_allowed_to_book_in_policy_may_still_request_when_named():
    decision = judge(OUT_OF_POLICY, booking(organizer="boss@partner.org"))
    assert decision.verdict == Verdict.request
    assert decision.reason.startswith("book_in_policy: boss@partner.org may not book it")


def test_one_not_allowed_to_request_out_of_policy_is_declined():
    policy = BookingPolicy(max_duration=timedelta(hours=2), request_out_of_policy=("x.org",))
    assert judge(policy, booking(at(9), at(13))).verdict == Verdict.decline


def test_a_conflict_is_declined_even_for_one_who_may_request_out_of_policy():
    decision = judge(OUT_OF_POLICY, booking(at(9), at(13)), Occupancy([(at(9), at(10), "r7")]))
    assert decision.verdict == Verdict.decline
    assert [o.rule for o in decision.broken] == ["max_duration", "conflict"]


def test_every_broken_rule_is_named_in_the_reason():
    policy = BookingPolicy(max_duration=timedelta(hours=1), allow_recurring=False)
    decision = judge(policy, booking(at(9), at(11), recurring=True))
    assert decision.reason == (
        "max_duration: lasts 2 hours, the limit is 1 hour; "
        "allow_recurring: recurring meetings are not accepted"
    )


def test_check_returns_the_first_broken_time_or_conflict_rule_as_before():
    policy = BookingPolicy(max_duration=timedelta(hours=1))
    occupancy = Occupancy([(at(9), at(10), "r1")])
    assert check(at(9), at(10), policy, occupancy, NOW, ignore="r1") is None
    refusal = check(at(9), at(11), policy, occupancy, NOW)
    assert refusal is not None
    assert str(refusal) == "max_duration: lasts 2 hours, the limit is 1 hour"
    clash = check(at(9), at(10), policy, occupancy, NOW)
    assert clash is not None
    assert clash.rule == "conflict"


# --- a recurring series with occurrences in conflict --------------------------------------


@pytest.mark.parametrize(
    ("share", "count", "conflicting", "declined_whole"),
    [
        (0.25, None, 2, False),  # 20% of 10, 25% allowed: only the 2 are declined
        (0.10, None, 2, True),  # 20% of 10, 10% allowed: the series is declined
        (0.20, None, 2, False),  # exactly the share allowed
        (None, 1, 2, True),  # 2 conflicts, 1 allowed
        (None, 2, 2, False),  # exactly the number allowed
        (0.5, 1, 2, True),  # either limit declines the series
        (0.25, None, 0, False),
    ],
)
def test_a_series_is_declined_whole_above_the_share_or_number_of_conflicts_allowed(
    share, count, conflicting, declined_whole
):
    policy = BookingPolicy(series_max_conflict_share=share, series_max_conflicts=count)
    result = series_conflicts(conflicting, 10, policy)
    assert result is not None
    assert result.rule == "series_conflicts"
    assert result.kept is not declined_whole


def test_the_series_reason_says_how_many_conflict_and_what_is_allowed():
    policy = BookingPolicy(series_max_conflict_share=0.10)
    declined = series_conflicts(2, 10, policy)
    assert str(declined) == (
        "series_conflicts: 2 of 10 occurrences conflict (20%), more than the 10% allowed"
    )
    kept = series_conflicts(2, 10, BookingPolicy(series_max_conflict_share=0.25))
    assert (
        str(kept) == "series_conflicts: 2 of 10 occurrences conflict (20%): only those are declined"
    )


def test_without_series_limits_or_where_conflicts_are_allowed_there_is_no_series_rule():
    assert series_conflicts(9, 10, BookingPolicy()) is None
    allowed = BookingPolicy(allow_conflicts=True, series_max_conflicts=0)
    assert series_conflicts(9, 10, allowed) is None


# --- where an item's policy comes from ----------------------------------------------------


DEFAULTS = PolicyDefaults(
    everywhere=PolicyLayer.of(booking_window=timedelta(days=90), allow_recurring=False),
    kinds=((ItemKind.desk, PolicyLayer.of(max_duration=timedelta(hours=10))),),
    areas=(
        (Location("HQ", "North"), PolicyLayer.of(booking_window=timedelta(days=14))),
        (Location("HQ"), PolicyLayer.of(booking_window=timedelta(days=30), allow_conflicts=True)),
    ),
)


def test_an_item_inherits_the_defaults_then_its_kinds_then_its_areas_broadest_first():
    desk = DEFAULTS.policy_for(ItemKind.desk, Location("HQ", "North", "2"))
    assert desk.max_duration == timedelta(hours=10)  # its kind's
    assert desk.booking_window == timedelta(days=14)  # the building's, over the site's
    assert desk.allow_conflicts  # the site's
    assert not desk.allow_recurring  # everywhere's


def test_an_items_own_settings_win_over_every_default():
    own = PolicyLayer.of(booking_window=None, allow_recurring=True)
    room = DEFAULTS.policy_for(ItemKind.room, Location("HQ", "North"), own)
    assert room.booking_window is None
    assert room.allow_recurring
    assert room.max_duration is None  # not a desk


def test_an_item_elsewhere_takes_none_of_an_areas_defaults():
    room = DEFAULTS.policy_for(ItemKind.room, Location("Branch", "North"))
    assert room.booking_window == timedelta(days=90)
    assert not room.allow_conflicts


def test_without_defaults_an_item_has_calsyncs_policy():
    assert PolicyDefaults().policy_for(ItemKind.room, Location()) == BookingPolicy()


def test_a_layer_naming_no_rule_of_the_policy_is_refused():
    with pytest.raises(ValueError, match="no booking policy rule named max_people"):
        PolicyLayer.of(max_people=3)


def test_a_series_handed_over_instance_by_instance_is_judged_whole_by_its_spans():
    from calsync.domain.policy import series_refusal

    spans = [(at(9, day), at(10, day)) for day in range(3, 13)]
    occupancy = Occupancy([(at(9, 4), at(10, 4), "x"), (at(9, 8), at(10, 8), "y")])
    strict = BookingPolicy(series_max_conflict_share=0.10)
    refused = series_refusal(spans, strict, occupancy)
    assert refused is not None
    assert str(refused) == (
        "series_conflicts: 2 of 10 occurrences conflict (20%), more than the 10% allowed"
    )
    assert series_refusal(spans, BookingPolicy(series_max_conflict_share=0.25), occupancy) is None
    assert series_refusal(spans, BookingPolicy(), occupancy) is None  # no series rule set
