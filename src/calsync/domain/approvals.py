"""Approval rules (performer criteria) and the approvals they ask for.

`approval_for(booking, rules, out_of_policy)` returns the `ApprovalRequirement` of the
first `ApprovalRule` matching the booking (by item, item kind, location, organizer,
duration, recurrence, time of day and capacity), or, for a booking out of policy that no
rule matches, the rules' `out_of_policy` performer; None when the booking needs no
approval. A booking that needs one is `pending_approval` until its `Approval` is decided.

An `Approval` is decided once: `approve` and `reject` by someone who `may_decide` it (the
person it names, any member of the group it names, anyone holding the role it names),
`expire` once its time is up. A second decision raises `ApprovalDecided`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum

from calsync.domain.bookings import Booking, address_in, in_words
from calsync.domain.items import ItemKind, Location
from calsync.domain.reservations import ProviderApproval, ReservationStatus
from calsync.errors import ApprovalDecided, NotAPerformer


@dataclass(frozen=True)
class Person:
    address: str

    def __str__(self) -> str:
        return self.address


@dataclass(frozen=True)
class Group:
    """A group of people named in the configuration: any one member decides."""

    name: str

    def __str__(self) -> str:
        return f"group {self.name}"


@dataclass(frozen=True)
class Role:
    """Everyone holding the role (`approver`, `admin`) decides."""

    name: str

    def __str__(self) -> str:
        return f"role {self.name}"


Performer = Person | Group | Role

#: Groups by name, each the lower-case addresses of its members.
Groups = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class TimeOfDay:
    """A daily span on the item's wall clock, [start, end); one ending at or before its
    start runs over midnight (18:00 to 08:00 is the night)."""

    start: time
    end: time

    def touches(self, booking: Booking) -> bool:
        """Whether any part of the booking falls within the span, on any day."""
        start, end = booking.local(booking.start), booking.local(booking.end)
        if end - start >= timedelta(days=1):
            return True
        day = start.date() - timedelta(days=1)
        while day <= end.date():
            opens = datetime.combine(day, self.start, start.tzinfo)
            closes = datetime.combine(
                day + timedelta(days=1) if self.end <= self.start else day, self.end, start.tzinfo
            )
            if opens < end and start < closes:
                return True
            day += timedelta(days=1)
        return False

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class ApprovalRule:
    """Bookings needing `performer`'s approval. Each criterion set narrows the rule; one
    left at its default matches every booking. Durations: longer than `longer_than`, up to
    and including `up_to`; capacities inclusive."""

    name: str
    performer: Performer
    items: frozenset[str] = frozenset()
    kinds: frozenset[ItemKind] = frozenset()
    location: Location = field(default_factory=Location)
    organizers: tuple[str, ...] = ()
    longer_than: timedelta | None = None
    up_to: timedelta | None = None
    recurring: bool | None = None
    time_of_day: TimeOfDay | None = None
    min_capacity: int | None = None
    max_capacity: int | None = None
    #: How long a request waits for a decision; None: the rules' `expire_after`.
    expire_after: timedelta | None = None

    @property
    def matches_every_booking(self) -> bool:
        """No criterion is set: every rule after this one is never reached."""
        sets = (self.longer_than, self.up_to, self.recurring, self.time_of_day)
        seats = (self.min_capacity, self.max_capacity)
        named = self.items or self.kinds or self.organizers or self.location.parts
        return not named and all(value is None for value in (*sets, *seats))

    def matches(self, booking: Booking) -> bool:
        return self.criteria(booking) is not None

    def criteria(self, booking: Booking) -> list[str] | None:
        """The criteria the booking meets, in words, or None if it misses one."""
        met: list[str] = []
        for applies, holds, said in self._criteria(booking):
            if applies:
                if not holds:
                    return None
                met.append(said)
        return met

    def _criteria(self, booking: Booking) -> list[tuple[bool, bool, str]]:
        local = f"{booking.local(booking.start):%H:%M}-{booking.local(booking.end):%H:%M}"
        return [
            (bool(self.items), booking.item in self.items, f"item {booking.item}"),
            (bool(self.kinds), booking.kind in self.kinds, f"a {booking.kind.value}"),
            (
                self.location.parts > 0,
                booking.location.within(self.location),
                f"in {self.location}",
            ),
            (
                bool(self.organizers),
                address_in(booking.organizer, self.organizers),
                f"booked by {booking.organizer}",
            ),
            (
                self.longer_than is not None,
                self.longer_than is not None and booking.duration > self.longer_than,
                f"longer than {in_words(self.longer_than or timedelta())}",
            ),
            (
                self.up_to is not None,
                self.up_to is not None and booking.duration <= self.up_to,
                f"at most {in_words(self.up_to or timedelta())} long",
            ),
            (
                self.recurring is not None,
                booking.recurring == self.recurring,
                "recurring" if booking.recurring else "not recurring",
            ),
            (
                self.time_of_day is not None,
                self.time_of_day is not None and self.time_of_day.touches(booking),
                f"{local} touches {self.time_of_day}",
            ),
            (
                self.min_capacity is not None,
                self.min_capacity is not None and booking.capacity >= self.min_capacity,
                f"for {booking.capacity} people, at least {self.min_capacity}",
            ),
            (
                self.max_capacity is not None,
                self.max_capacity is not None and booking.capacity <= self.max_capacity,
                f"for {booking.capacity} people, at most {self.max_capacity}",
            ),
        ]


#: The rule named when a booking out of policy matched no approval rule.
OUT_OF_POLICY = "out_of_policy"


@dataclass(frozen=True)
class ApprovalRules:
    """The ordered rules (the first match wins), who decides a booking out of policy that
    no rule matches, and how long a request waits for a decision."""

    rules: tuple[ApprovalRule, ...] = ()
    out_of_policy: Performer = Role("approver")
    expire_after: timedelta = timedelta(hours=48)


@dataclass(frozen=True)
class ApprovalRequirement:
    """Who must approve a booking, the rule that says so and why."""

    rule: str
    performer: Performer
    reason: str
    expire_after: timedelta

    def request(self, reservation: str, now: datetime, ends: datetime | None = None) -> Approval:
        """The request, waiting `expire_after` or, for a booking ending sooner, until its
        end: a decision after the meeting is over decides nothing."""
        expires = now + self.expire_after
        return Approval(
            reservation=reservation,
            rule=self.rule,
            performer=self.performer,
            requested_at=now,
            expires_at=min(expires, ends) if ends is not None and ends > now else expires,
        )


def approval_for(
    booking: Booking, rules: ApprovalRules | Sequence[ApprovalRule], out_of_policy: str = ""
) -> ApprovalRequirement | None:
    """The approval the booking needs: the first rule it matches; else, when it is out of
    policy (`out_of_policy` says which rules it broke), the out-of-policy performer's;
    else None."""
    if not isinstance(rules, ApprovalRules):
        rules = ApprovalRules(tuple(rules))
    broke = f" (out of policy: {out_of_policy})" if out_of_policy else ""
    for rule in rules.rules:
        met = rule.criteria(booking)
        if met is not None:
            why = f"rule {rule.name!r} matched: " + (", ".join(met) or "every booking")
            expire = rule.expire_after or rules.expire_after
            return ApprovalRequirement(rule.name, rule.performer, why + broke, expire)
    if out_of_policy:
        why = f"requested out of policy: {out_of_policy}"
        return ApprovalRequirement(OUT_OF_POLICY, rules.out_of_policy, why, rules.expire_after)
    return None


# --- the approval and its decision ------------------------------------------------------


class ApprovalState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"
    #: The booking no longer waits: cancelled, or moved where another rule (or none)
    #: applies. Nobody decided it.
    withdrawn = "withdrawn"


#: What each state makes of the reservation waiting for it.
RESERVATION_STATUS = {
    ApprovalState.pending: ReservationStatus.pending_approval,
    ApprovalState.approved: ReservationStatus.confirmed,
    ApprovalState.rejected: ReservationStatus.declined,
    ApprovalState.expired: ReservationStatus.declined,
    ApprovalState.withdrawn: ReservationStatus.cancelled,
}


@dataclass(frozen=True)
class Identity:
    """Who acts: an address and the roles the caller holds."""

    address: str
    roles: frozenset[str] = frozenset()


#: The role that may decide any approval (and is audited as deciding it).
ADMIN = "admin"


def may_decide(who: Identity, approval: Approval, groups: Groups) -> bool:
    """Whether `who` is the approval's performer: the person it names, a member of the
    group it names, or a holder of the role it names; an admin decides any."""
    if ADMIN in who.roles:
        return True
    performer = approval.performer
    address = who.address.lower()
    if isinstance(performer, Person):
        return bool(address) and address == performer.address.lower()
    if isinstance(performer, Group):
        return bool(address) and address in groups.get(performer.name, frozenset())
    return performer.name in who.roles


@dataclass(frozen=True)
class Approval:
    """The request for one reservation's approval and, once made, its decision."""

    reservation: str
    rule: str
    performer: Performer
    requested_at: datetime
    expires_at: datetime
    state: ApprovalState = ApprovalState.pending
    decided_by: str = ""
    decided_at: datetime | None = None
    reason: str = ""

    @property
    def reservation_status(self) -> ReservationStatus:
        return RESERVATION_STATUS[self.state]

    def due(self, now: datetime) -> bool:
        """Undecided and out of time: to be expired."""
        return self.state == ApprovalState.pending and now >= self.expires_at

    def keeps(self, requested: Approval) -> bool:
        """Whether this pending request stands for `requested`, asked again for the same
        booking (moved, or read again): the same rule and performer keep it waiting, with
        its time; another rule restarts it."""
        return (
            self.state == ApprovalState.pending
            and self.rule == requested.rule
            and self.performer == requested.performer
        )

    def approve(self, who: Identity, groups: Groups, now: datetime, reason: str = "") -> Approval:
        return self._decide(ApprovalState.approved, who, groups, now, reason)

    def reject(self, who: Identity, groups: Groups, now: datetime, reason: str = "") -> Approval:
        """Rejected: the reservation is declined with `reason` (or who rejected it)."""
        reason = reason or f"rejected by {who.address.lower()}"
        return self._decide(ApprovalState.rejected, who, groups, now, reason)

    def expire(self, now: datetime) -> Approval:
        self._refuse_if_decided(now, expiring=True)
        if now < self.expires_at:
            raise ApprovalDecided(
                f"the approval of reservation {self.reservation} runs until "
                f"{self.expires_at.isoformat()}: it cannot expire yet"
            )
        waited = self.expires_at - self.requested_at
        return replace(
            self,
            state=ApprovalState.expired,
            decided_at=now,
            reason=f"no decision within {in_words(waited)}",
        )

    def _decide(
        self, state: ApprovalState, who: Identity, groups: Groups, now: datetime, reason: str
    ) -> Approval:
        self._refuse_if_decided(now)
        if not may_decide(who, self, groups):
            raise NotAPerformer(
                f"{who.address or 'the caller'} may not decide the approval of reservation "
                f"{self.reservation}: {self.performer} decides it (rule {self.rule!r})"
            )
        return replace(
            self, state=state, decided_by=who.address.lower(), decided_at=now, reason=reason
        )

    def _refuse_if_decided(self, now: datetime, expiring: bool = False) -> None:
        if self.state != ApprovalState.pending:
            by = f" by {self.decided_by}" if self.decided_by else ""
            when = self.decided_at.isoformat() if self.decided_at else "before"
            raise ApprovalDecided(
                f"the approval of reservation {self.reservation} was already "
                f"{self.state.value}{by} at {when}"
            )
        if not expiring and now >= self.expires_at:
            raise ApprovalDecided(
                f"the approval of reservation {self.reservation} expired at "
                f"{self.expires_at.isoformat()}"
            )


# --- where the room's own calendar approves too ----------------------------------------

#: Why a booking holds the room without being confirmed: the room's approval is missing.
ROOM_APPROVAL_WAITING = "waiting for the room's own approval in the calendar"
#: Why a booking is declined when the room's own approval declined it.
ROOM_APPROVAL_DECLINED = "the room's own approval declined it in the calendar"


def provider_approval_of(partstat: str | None) -> ProviderApproval:
    """The room's own approval from its PARTSTAT in the calendar."""
    if partstat == "ACCEPTED":
        return ProviderApproval.accepted
    if partstat == "DECLINED":
        return ProviderApproval.declined
    return ProviderApproval.awaiting


def both_sides(
    status: ReservationStatus, reason: str, provider: ProviderApproval | None
) -> tuple[ReservationStatus, str]:
    """A booking's status once calsync's side (`status`) meets the room's own approval
    (`provider`, None where the calendar gives none): confirmed only when both approved,
    declined when the room's side declined, waiting for the room (`awaiting_confirmation`)
    when calsync approved and the room has not yet. calsync's own refusals and waits stand."""
    if provider is None:
        return status, reason
    if provider == ProviderApproval.declined and status in (
        ReservationStatus.confirmed,
        ReservationStatus.awaiting_confirmation,
        ReservationStatus.pending_approval,
    ):
        return ReservationStatus.declined, ROOM_APPROVAL_DECLINED
    if status == ReservationStatus.confirmed and provider != ProviderApproval.accepted:
        return ReservationStatus.awaiting_confirmation, ROOM_APPROVAL_WAITING
    if status == ReservationStatus.awaiting_confirmation and provider == ProviderApproval.accepted:
        return ReservationStatus.confirmed, ""
    return status, reason
