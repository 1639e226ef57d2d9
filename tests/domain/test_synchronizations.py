"""plan_sweep(): absence from a full listing is not proof of deletion."""

from __future__ import annotations

from calsync.domain.synchronizations import (
    Sweep,
    SweepGuard,
    SweepNeedsConfirmation,
    plan_sweep,
)


def hrefs(n: int, prefix: str = "e") -> set[str]:
    return {f"{prefix}{i}.ics" for i in range(n)}


def test_entries_missing_from_a_plausible_listing_are_swept():
    known = hrefs(20)
    assert plan_sweep(known - {"e3.ics"}, known) == Sweep(frozenset({"e3.ics"}))


def test_an_empty_listing_where_entries_lived_is_not_taken_as_deleting_everything():
    assert isinstance(plan_sweep(set(), hrefs(3)), SweepNeedsConfirmation)


def test_a_listing_that_lost_most_of_a_large_calendar_waits_for_an_admin():
    known = hrefs(100)
    refusal = plan_sweep(hrefs(30), known)
    assert isinstance(refusal, SweepNeedsConfirmation)
    assert "--confirm-sweep" in str(refusal)


def test_an_admin_can_confirm_the_sweep():
    assert plan_sweep(set(), hrefs(3), confirmed=True) == Sweep(frozenset(hrefs(3)))


def test_nothing_known_means_nothing_to_sweep():
    assert plan_sweep(hrefs(5), set()) == Sweep(frozenset())


def test_the_guard_says_how_small_a_listing_may_shrink_and_from_how_many_entries():
    known, listed = hrefs(10), hrefs(8)  # two of ten gone
    assert plan_sweep(listed, known) == Sweep(frozenset({"e8.ics", "e9.ics"}))
    strict = SweepGuard(share=0.9, minimum=10)
    assert isinstance(plan_sweep(listed, known, guard=strict), SweepNeedsConfirmation)
    assert plan_sweep(listed, known, guard=SweepGuard(share=0.9, minimum=11)) == Sweep(
        frozenset({"e8.ics", "e9.ics"})
    )  # too few entries known for the share to count


def test_a_guard_of_share_zero_still_holds_an_empty_listing():
    lenient = SweepGuard(share=0.0, minimum=1)
    assert plan_sweep(hrefs(1), hrefs(100), guard=lenient) == Sweep(
        frozenset(hrefs(100) - hrefs(1))
    )
    assert isinstance(plan_sweep(set(), hrefs(100), guard=lenient), SweepNeedsConfirmation)
