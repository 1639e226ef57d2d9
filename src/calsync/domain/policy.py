"""The booking policy: may this booking hold this item without a human's decision?

`evaluate(booking, policy, occupancy, now, ignore)` runs every rule the policy sets and
returns a `PolicyDecision`: each rule's `PolicyOutcome` (its name, whether the booking
kept it, and why) and the verdict: `accept`, `request` (it broke a rule, but its
organizer may ask anyway: it waits for approval) or `decline`. Impossible times and a
conflict are declined whoever asks: no approval makes a double booking.

`series_conflicts(conflicting, occurrences, policy)` says whether a recurring series is
declined as a whole for the share or number of its occurrences in conflict, as Exchange
resource mailboxes do (`ConflictPercentageAllowed`, `MaximumConflictInstances`).

`series_refusal(spans, policy, occupancy)` is the same rule for a series handed over
instance by instance.

`check(start, end, policy, occupancy, now, ignore)` is the time and conflict part alone:
the first rule broken, or None.

`PolicyDefaults` makes an item's policy from layers: defaults for every item, for its
kind, for the areas it lies in, then its own settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from calsync.domain.bookings import Booking, address_in, in_words
from calsync.domain.items import BookingPolicy, ItemKind, Location, WorkingHours
from calsync.domain.occupancy import Occupancy

IMPOSSIBLE_TIMES = "impossible_times"
BOOK_IN_POLICY = "book_in_policy"
MAX_DURATION = "max_duration"
BOOKING_WINDOW = "booking_window"
WORKING_HOURS = "working_hours"
RECURRING = "allow_recurring"
CONFLICT = "conflict"
SERIES_CONFLICTS = "series_conflicts"

#: The most occurrences of one series the room declines one by one: a series with more
#: in conflict is declined whole.
ONE_BY_ONE_DECLINES = 50

#: Rules no request overrides: times that cannot be, and a double booking.
UNREQUESTABLE = frozenset({IMPOSSIBLE_TIMES, CONFLICT})

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class PolicyOutcome:
    """One rule's outcome: `rule` names it, `reason` says how the booking kept or broke it."""

    rule: str
    reason: str
    kept: bool = False

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


class Verdict(StrEnum):
    accept = "accept"
    request = "request"
    decline = "decline"


@dataclass(frozen=True)
class PolicyDecision:
    verdict: Verdict
    outcomes: tuple[PolicyOutcome, ...]

    @property
    def broken(self) -> tuple[PolicyOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.kept)

    @property
    def reason(self) -> str:
        """The rules broken and why, as shown on the reservation; empty when none was."""
        return "; ".join(str(outcome) for outcome in self.broken)


def evaluate(
    booking: Booking,
    policy: BookingPolicy,
    occupancy: Occupancy,
    now: datetime,
    ignore: str | None = None,
) -> PolicyDecision:
    if booking.end <= booking.start:
        impossible = _impossible(booking.end)
        return PolicyDecision(Verdict.decline, (impossible,))
    outcomes = [
        outcome
        for outcome in (
            _book_in_policy(booking, policy),
            _max_duration(booking.start, booking.end, policy),
            _booking_window(booking.start, policy, now),
            _working_hours(booking, policy),
            _recurring(booking, policy),
            _conflict(booking.start, booking.end, policy, occupancy, ignore),
        )
        if outcome is not None
    ]
    broken = {outcome.rule for outcome in outcomes if not outcome.kept}
    if not broken:
        verdict = Verdict.accept
    elif broken & UNREQUESTABLE or not address_in(booking.organizer, policy.request_out_of_policy):
        verdict = Verdict.decline
    else:
        verdict = Verdict.request
    return PolicyDecision(verdict, tuple(outcomes))


def check(
    start: datetime,
    end: datetime,
    policy: BookingPolicy,
    occupancy: Occupancy,
    now: datetime,
    ignore: str | None = None,
) -> PolicyOutcome | None:
    """The first of impossible times, maximum duration, booking window and conflict that
    the span breaks, or None."""
    if end <= start:
        return _impossible(end)
    for outcome in (
        _max_duration(start, end, policy),
        _booking_window(start, policy, now),
        _conflict(start, end, policy, occupancy, ignore),
    ):
        if outcome is not None and not outcome.kept:
            return outcome
    return None


def series_conflicts(
    conflicting: int, occurrences: int, policy: BookingPolicy
) -> PolicyOutcome | None:
    """Whether a series with `conflicting` of its `occurrences` in conflict is kept (only
    those declined) or broken (declined as a whole); None when the policy sets no limit."""
    share_limit, count_limit = policy.series_max_conflict_share, policy.series_max_conflicts
    if policy.allow_conflicts or occurrences <= 0:
        return None
    share = conflicting / occurrences
    said = f"{conflicting} of {occurrences} occurrences conflict ({share:.0%})"
    if conflicting > ONE_BY_ONE_DECLINES and (count_limit is None or count_limit >= conflicting):
        # Each occurrence declined alone is an override written into the organizer's
        # object, a copy of the meeting with all its attendees: past this many, the
        # series is declined whole whatever the limits.
        why = f"{said}, more than the {ONE_BY_ONE_DECLINES} calsync declines one by one"
        return PolicyOutcome(SERIES_CONFLICTS, why)
    if share_limit is None and count_limit is None:
        return None
    if share_limit is not None and share > share_limit:
        return PolicyOutcome(SERIES_CONFLICTS, f"{said}, more than the {share_limit:.0%} allowed")
    if count_limit is not None and conflicting > count_limit:
        return PolicyOutcome(SERIES_CONFLICTS, f"{said}, more than the {count_limit} allowed")
    return PolicyOutcome(SERIES_CONFLICTS, f"{said}: only those are declined", kept=True)


def series_refusal(
    spans: Sequence[tuple[datetime, datetime]], policy: BookingPolicy, occupancy: Occupancy
) -> PolicyOutcome | None:
    """The series' own rule broken by these occurrences (their spans), judged against what
    already holds the item; None when the series may be accepted occurrence by occurrence.
    For services that hand over a series instance by instance (Google's `singleEvents`),
    where no one calendar object holds the whole series."""
    conflicting = sum(
        1
        for start, end in spans
        if (outcome := _conflict(start, end, policy, occupancy, None)) is not None
        and not outcome.kept
    )
    verdict = series_conflicts(conflicting, len(spans), policy)
    return verdict if verdict is not None and not verdict.kept else None


def _impossible(end: datetime) -> PolicyOutcome:
    return PolicyOutcome(IMPOSSIBLE_TIMES, f"ends at {end.isoformat()} before it starts")


def _book_in_policy(booking: Booking, policy: BookingPolicy) -> PolicyOutcome | None:
    if not policy.book_in_policy:
        return None
    who = booking.organizer or "an unknown organizer"
    if address_in(booking.organizer, policy.book_in_policy):
        return PolicyOutcome(BOOK_IN_POLICY, f"{who} may book it", kept=True)
    allowed = ", ".join(policy.book_in_policy)
    return PolicyOutcome(BOOK_IN_POLICY, f"{who} may not book it (only {allowed})")


def _max_duration(start: datetime, end: datetime, policy: BookingPolicy) -> PolicyOutcome | None:
    limit = policy.max_duration
    if limit is None:
        return None
    kept = end - start <= limit
    return PolicyOutcome(
        MAX_DURATION, f"lasts {in_words(end - start)}, the limit is {in_words(limit)}", kept
    )


def _booking_window(start: datetime, policy: BookingPolicy, now: datetime) -> PolicyOutcome | None:
    window = policy.booking_window
    if window is None:
        return None
    last = (now + window).date().isoformat()
    if start > now + window:
        return PolicyOutcome(BOOKING_WINDOW, f"starts after {last}")
    return PolicyOutcome(BOOKING_WINDOW, f"starts by {last}", kept=True)


def _working_hours(booking: Booking, policy: BookingPolicy) -> PolicyOutcome | None:
    if not policy.working_hours_only:
        return None
    hours = policy.working_hours
    start, end = booking.local(booking.start), booking.local(booking.end)
    kept = (
        start.date() == end.date()
        and start.weekday() in hours.days
        and hours.start <= start.time()
        and end.time() <= hours.end
    )
    span = f"{start:%a %Y-%m-%d %H:%M} to {end:%a %Y-%m-%d %H:%M} ({booking.time_zone})"
    where = "within" if kept else "outside"
    return PolicyOutcome(WORKING_HOURS, f"{span} is {where} {describe_hours(hours)}", kept)


def describe_hours(hours: WorkingHours) -> str:
    days = ", ".join(_DAY_NAMES[day] for day in sorted(hours.days))
    return f"working hours {hours.start:%H:%M}-{hours.end:%H:%M} on {days}"


def _recurring(booking: Booking, policy: BookingPolicy) -> PolicyOutcome | None:
    if policy.allow_recurring or not booking.recurring:
        return None
    return PolicyOutcome(RECURRING, "recurring meetings are not accepted")


def _conflict(
    start: datetime,
    end: datetime,
    policy: BookingPolicy,
    occupancy: Occupancy,
    ignore: str | None,
) -> PolicyOutcome | None:
    if policy.allow_conflicts:
        return None
    other = occupancy.clash(start, end, ignore)
    if other is not None:
        return PolicyOutcome(CONFLICT, f"overlaps reservation {other}")
    return PolicyOutcome(CONFLICT, "overlaps no other reservation", kept=True)


# --- where an item's policy comes from ---------------------------------------------------

_POLICY_FIELDS = frozenset(f.name for f in fields(BookingPolicy))


@dataclass(frozen=True)
class PolicyLayer:
    """Part of a booking policy: the rules it sets, over whatever lies beneath it."""

    #: (rule, value) pairs, values as `BookingPolicy` holds them.
    settings: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted({name for name, _ in self.settings} - _POLICY_FIELDS)
        if unknown:
            raise ValueError(f"no booking policy rule named {', '.join(unknown)}")

    @classmethod
    def of(cls, **settings: Any) -> PolicyLayer:
        return cls(tuple(settings.items()))

    def over(self, policy: BookingPolicy) -> BookingPolicy:
        return replace(policy, **dict(self.settings))


@dataclass(frozen=True)
class PolicyDefaults:
    """An item's booking policy, layer over layer: the built-in defaults, then those set
    for every item, for its kind, for each area it lies in (broadest first; of two as
    broad, the later one), and last its own."""

    everywhere: PolicyLayer = PolicyLayer()
    kinds: tuple[tuple[ItemKind, PolicyLayer], ...] = ()
    areas: tuple[tuple[Location, PolicyLayer], ...] = ()

    def policy_for(
        self, kind: ItemKind, location: Location, own: PolicyLayer = PolicyLayer()
    ) -> BookingPolicy:
        policy = self.everywhere.over(BookingPolicy())
        for of_kind, layer in self.kinds:
            if of_kind == kind:
                policy = layer.over(policy)
        around = [(area, layer) for area, layer in self.areas if location.within(area)]
        for _, layer in sorted(around, key=lambda pair: pair[0].parts):
            policy = layer.over(policy)
        return own.over(policy)
