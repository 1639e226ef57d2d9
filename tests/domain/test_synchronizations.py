"""plan_sweep(): absence from a full listing is not proof of deletion."""

from __future__ import annotations

from calsync.domain.synchronizations import Sweep, SweepNeedsConfirmation, plan_sweep


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
