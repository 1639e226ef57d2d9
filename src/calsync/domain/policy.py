"""The booking policy check: may this occurrence hold this item?

`check(start, end, policy, occupancy, now, ignore)` returns None when the booking is
acceptable, or the reason it is declined: a conflict, outside the booking window, or
longer than the maximum duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calsync.domain.items import BookingPolicy
from calsync.domain.occupancy import Occupancy


@dataclass(frozen=True)
class Refusal:
    """Why the policy said no: `rule` names the rule, `detail` says how it was broken."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


def check(
    start: datetime,
    end: datetime,
    policy: BookingPolicy,
    occupancy: Occupancy,
    now: datetime,
    ignore: str | None = None,
) -> Refusal | None:
    if end <= start:
        return Refusal("impossible_times", f"ends at {end.isoformat()} before it starts")
    if policy.max_duration is not None and end - start > policy.max_duration:
        return Refusal("max_duration", f"lasts {end - start}, the limit is {policy.max_duration}")
    if policy.booking_window is not None and start > now + policy.booking_window:
        return Refusal(
            "booking_window", f"starts after {(now + policy.booking_window).date().isoformat()}"
        )
    if policy.decline_conflicts:
        other = occupancy.clash(start, end, ignore)
        if other is not None:
            return Refusal("conflict", f"overlaps reservation {other}")
    return None
