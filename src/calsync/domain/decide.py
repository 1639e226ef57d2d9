"""What one calendar item does to the reservations of one workplace item: a pure plan.

`decide(change, existing, item, occupancy, now, new_id, rules)` compares the occurrences a
calendar object holds now with the reservations that mirror it and returns a `Plan` of
small actions (`Create`, `Update`, `Cancel`), the approvals it requests, and the room's
answer to the organizer. Each occurrence to judge goes through the item's booking policy
(`evaluate`) and the approval rules (`approval_for`): accepted (`confirmed`), waiting for
a performer's approval (`pending_approval`, the room answers TENTATIVE), or declined with
the rules it broke. A series with too many occurrences in conflict is declined as a whole
(`series_conflicts`); below that, the room accepts it and declines the conflicting
occurrences one by one (`Plan.room_declines`).
`decide_removal(existing)` does the same for an object the calendar no longer has.
Nothing is written here; the service layer carries the plan out (decide first, then act,
as vdirsyncer's sync does).

Idempotence: applying the same object twice plans nothing the second time, and an
occurrence older (lower SEQUENCE) than the reservation is ignored (RFC 5546 §2.1.5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from calsync.domain.approvals import (
    ROOM_APPROVAL_DECLINED,
    Approval,
    ApprovalRules,
    approval_for,
    both_sides,
    provider_approval_of,
)
from calsync.domain.bookings import Booking
from calsync.domain.entries import CalendarObject, Occurrence, OccurrenceKey, Window
from calsync.domain.items import WorkplaceItem
from calsync.domain.occupancy import Occupancy
from calsync.domain.policy import CONFLICT, Verdict, evaluate, series_conflicts
from calsync.domain.reservations import (
    Origin,
    ProviderApproval,
    Reservation,
    ReservationStatus,
)

#: No approval rules: every booking the policy accepts is confirmed.
NO_APPROVALS = ApprovalRules()


@dataclass(frozen=True)
class Create:
    reservation: Reservation


@dataclass(frozen=True)
class Update:
    reservation: Reservation


@dataclass(frozen=True)
class Cancel:
    reservation: Reservation


Action = Create | Update | Cancel


@dataclass(frozen=True)
class Plan:
    """The actions for one calendar item, the approvals they wait for and, when the room
    must answer, its PARTSTAT (with the occurrences of a series it declines one by one,
    by their RECURRENCE-ID)."""

    actions: tuple[Action, ...]
    room_partstat: str | None = None
    approvals: tuple[Approval, ...] = ()
    room_declines: tuple[datetime, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return not self.actions and self.room_partstat is None


@dataclass(frozen=True)
class Change:
    """The calendar object as read now, with where it lives and its version."""

    obj: CalendarObject
    provider_id: str
    version: str | None
    window: Window
    #: Read from the calendar just now because calsync's own change met it: the
    #: calendar's current state, newer than what calsync holds whatever its SEQUENCE
    #: (calsync raises SEQUENCE on changes it had not sent yet).
    authoritative: bool = False
    #: The service's room answers on its own (Google auto-accept, an Exchange resource
    #: mailbox): its answer, once shown, is the room's word (see `_room_word`).
    room_decides: bool = False
    #: The series this object is one instance of was declined whole, and why (judged over
    #: its instances together where the service hands them over one by one:
    #: `series_refusal`); empty otherwise.
    series_refused: str = ""


def decide(
    change: Change,
    existing: Sequence[Reservation],
    item: WorkplaceItem,
    occupancy: Occupancy,
    now: datetime,
    new_id: Callable[[], str],
    rules: ApprovalRules = NO_APPROVALS,
) -> Plan:
    judge = _Judge(item, occupancy, now, rules, change.obj, change.series_refused)
    by_key = {reservation_key(r): r for r in existing}
    actions: list[Action] = []
    yielded = {occurrence.key for occurrence in change.obj.occurrences}
    for key, gone in by_key.items():
        # An occurrence the object no longer yields inside the window was deleted or moved.
        # Cancelled first, its span given back: the occurrence that replaces it (moved, or
        # a meeting made a series) may take it, and is written after it.
        if key not in yielded and _within(gone, change.window):
            occupancy.release(gone.id)
            if gone.status != ReservationStatus.cancelled:
                actions.append(Cancel(gone.cancel("removed from the calendar")))
    for occurrence in change.obj.occurrences:
        current = by_key.get(occurrence.key)
        action = _plan_occurrence(occurrence, current, change, judge, new_id)
        if action is not None:
            actions.append(action)
    actions = judge.whole_series(actions)
    requested = judge.approvals
    approvals = tuple(
        requested[a.reservation.id]
        for a in actions
        if a.reservation.id in requested
        and a.reservation.status == ReservationStatus.pending_approval
    )
    answer, declines = _room_answer(change, existing, actions, item)
    return Plan(tuple(actions), answer, approvals, declines)


class _Judge:
    """Judges occurrences of one calendar object by the item's booking policy and the
    approval rules, and remembers what it found: the approvals requested, and which
    occurrences were declined for a conflict (for the series' own rule)."""

    def __init__(
        self,
        item: WorkplaceItem,
        occupancy: Occupancy,
        now: datetime,
        rules: ApprovalRules,
        obj: CalendarObject,
        series_refused: str = "",
    ) -> None:
        self.series_refused = series_refused
        self.item, self.occupancy, self.moment, self.rules = item, occupancy, now, rules
        #: The object is a series (of which a service may hand over one instance alone).
        self.recurring = obj.master.recurring or any(
            o.recurrence_id is not None for o in obj.occurrences
        )
        #: The object holds the series itself, so the series' own rule can be judged here.
        self.whole = obj.master.recurring
        self.approvals: dict[str, Approval] = {}
        self.judged: list[str] = []
        self.conflicting: set[str] = set()

    def __call__(
        self, start: datetime, end: datetime, organizer: str, reservation_id: str, origin: Origin
    ) -> tuple[ReservationStatus, str]:
        """Confirmed (holding the span), pending approval (holding it too) or declined,
        with the reason. calsync's own bookings are the workplace's: they ask for no
        approval here."""
        self.judged.append(reservation_id)
        if self.series_refused and origin == Origin.calendar:
            return ReservationStatus.declined, self.series_refused
        booking = Booking.of(self.item, start, end, organizer, self.recurring)
        decision = evaluate(booking, self.item.policy, self.occupancy, self.moment, reservation_id)
        if decision.verdict == Verdict.decline:
            if CONFLICT in {outcome.rule for outcome in decision.broken}:
                self.conflicting.add(reservation_id)
            return ReservationStatus.declined, decision.reason
        out_of_policy = decision.reason if decision.verdict == Verdict.request else ""
        needed = None
        if origin == Origin.calendar and end > self.moment:
            # A meeting already over has nothing left to decide.
            needed = approval_for(booking, self.rules, out_of_policy)
        elif out_of_policy:
            return ReservationStatus.declined, decision.reason
        self.occupancy.hold(start, end, reservation_id)
        if needed is None:
            return ReservationStatus.confirmed, ""
        self.approvals[reservation_id] = needed.request(reservation_id, self.moment, end)
        return ReservationStatus.pending_approval, needed.reason

    def again(self, reservation: Reservation) -> tuple[ReservationStatus, str]:
        """Judge an existing reservation at its new span."""
        r = reservation
        return self(r.start, r.end, r.organizer, r.id, r.origin)

    def whole_series(self, actions: list[Action]) -> list[Action]:
        """The actions, with every occurrence judged now declined when the series has
        more of them in conflict than the policy allows."""
        if not self.whole or not self.judged:
            return actions
        verdict = series_conflicts(len(self.conflicting), len(self.judged), self.item.policy)
        if verdict is None or verdict.kept:
            return actions
        judged, declined = set(self.judged), []
        for action in actions:
            reservation = action.reservation
            if reservation.id in judged and not isinstance(action, Cancel):
                self.occupancy.release(reservation.id)
                self.approvals.pop(reservation.id, None)
                reason = str(verdict)
                action = replace(
                    action,
                    reservation=replace(
                        reservation, status=ReservationStatus.declined, reason=reason
                    ),
                )
            declined.append(action)
        return declined


def decide_removal(existing: Sequence[Reservation], occupancy: Occupancy) -> Plan:
    """The calendar deleted the object: every live reservation mirroring it is cancelled."""
    actions: list[Action] = []
    for reservation in existing:
        if reservation.status != ReservationStatus.cancelled:
            occupancy.release(reservation.id)
            actions.append(Cancel(reservation.cancel("deleted in the calendar")))
    return Plan(tuple(actions))


def reservation_key(reservation: Reservation) -> OccurrenceKey:
    return (reservation.uid, reservation.recurrence_id)


def _plan_occurrence(
    occurrence: Occurrence,
    current: Reservation | None,
    change: Change,
    judge: _Judge,
    new_id: Callable[[], str],
) -> Action | None:
    item, occupancy = judge.item, judge.occupancy
    provider = _room_approval(change, item, occurrence)
    if current is None:
        # A new meeting (or a new instance of a series): the policy decides.
        reservation_id = new_id()
        status, reason = judge(
            occurrence.start, occurrence.end, occurrence.organizer, reservation_id, Origin.calendar
        )
        status, reason = _room_word(
            change, item, Origin.calendar, status, reason, occupancy, reservation_id
        )
        status, reason = _both_sides(status, reason, provider, occupancy, reservation_id)
        mirror = _mirror(occurrence, change, reservation_id, item.name, status, reason)
        return Create(replace(mirror, provider_approval=provider))
    if occurrence.sequence < current.sequence and not change.authoritative:
        # A replay older than what we hold: the newer revision wins.
        return None
    updated = _mirror(
        occurrence, change, current.id, item.name, current.status, current.reason, current.origin
    )
    if current.origin == Origin.calendar:
        updated = replace(updated, provider_approval=provider)
    if updated == current:
        # The same revision again (a replay, or an echo of our own write): nothing to do.
        return None
    if change.room_decides and current.origin == Origin.workplace:
        # calsync's booking at a service whose room decides: the room's answer settles it.
        occupancy.release(current.id)
        status, reason = judge.again(updated)
        status, reason = _room_word(
            change, item, current.origin, status, reason, occupancy, current.id
        )
        decided = replace(updated, status=status, reason=reason)
        return None if decided == current else Update(decided)
    # The room's own approval declined it, and now no longer does (a delegate's misclick
    # put right): judged again, as if revived.
    revived = current.reason == ROOM_APPROVAL_DECLINED and updated.provider_approval not in (
        None,
        ProviderApproval.declined,
    )
    if (
        _same_span(updated, current)
        and current.status != ReservationStatus.cancelled
        and not revived
    ):
        # Only the subject, organizer, sequence, version or the room's own approval
        # changed: calsync's decision stands, and meets the room's.
        status, reason = _both_sides(
            current.status, current.reason, updated.provider_approval, occupancy, current.id
        )
        return Update(replace(updated, status=status, reason=reason))
    # Moved, resized or revived: release the old span and let the policy decide again.
    occupancy.release(current.id)
    status, reason = judge.again(updated)
    status, reason = _room_word(change, item, current.origin, status, reason, occupancy, current.id)
    status, reason = _both_sides(status, reason, updated.provider_approval, occupancy, current.id)
    return Update(replace(updated, status=status, reason=reason))


def _room_approval(
    change: Change, item: WorkplaceItem, occurrence: Occurrence
) -> ProviderApproval | None:
    """The room's own approval of the occurrence, where its calendar gives one."""
    binding = item.binding
    if binding is None or not binding.room_approves:
        return None
    address = binding.room_address.lower()
    entries = [e for e in change.obj.entries if e.recurrence_id == occurrence.recurrence_id]
    for entry in entries or [change.obj.master]:
        for attendee in entry.attendees:
            if attendee.address == address:
                return provider_approval_of(attendee.partstat)
    return provider_approval_of(None)


def _both_sides(
    status: ReservationStatus,
    reason: str,
    provider: ProviderApproval | None,
    occupancy: Occupancy,
    reservation_id: str,
) -> tuple[ReservationStatus, str]:
    settled, why = both_sides(status, reason, provider)
    if settled == ReservationStatus.declined and status != ReservationStatus.declined:
        occupancy.release(reservation_id)
    return settled, why


#: Why a reservation is conflicted or declined when the room itself said no.
ROOM_DECLINED = "the room declined it in the calendar"
#: Why calsync's booking holds the room without being confirmed yet.
ROOM_WAITING = "waiting for the room's answer"


def room_verdict(answer: str | None) -> tuple[ReservationStatus, str]:
    """calsync's booking by the room's own answer (a PARTSTAT name, None for none yet):
    confirmed once it accepted, conflicted when it declined, awaiting until then."""
    if answer in ("ACCEPTED", "TENTATIVE"):
        return ReservationStatus.confirmed, ""
    if answer == "DECLINED":
        return ReservationStatus.conflicted, ROOM_DECLINED
    return ReservationStatus.awaiting_confirmation, ROOM_WAITING


#: What the room's own answer may still overturn.
_ANSWERABLE = frozenset({ReservationStatus.confirmed, ReservationStatus.pending_approval})


def _room_word(
    change: Change,
    item: WorkplaceItem,
    origin: Origin,
    status: ReservationStatus,
    reason: str,
    occupancy: Occupancy,
    reservation_id: str,
) -> tuple[ReservationStatus, str]:
    """The policy's verdict, and then the room's own answer where the room decides: a
    room that declined frees the span (calsync's booking `conflicted`, someone's meeting
    `declined`); calsync's booking the room has not answered yet is
    `awaiting_confirmation`. The policy's refusal stands whatever the room said."""
    if not change.room_decides or status not in _ANSWERABLE:
        return status, reason
    shown = _shown_partstat(change.obj, item.binding.room_address) if item.binding else None
    if shown == "DECLINED":
        occupancy.release(reservation_id)
        refused = (
            ReservationStatus.conflicted
            if origin == Origin.workplace
            else ReservationStatus.declined
        )
        return refused, ROOM_DECLINED
    if origin == Origin.workplace and shown not in ("ACCEPTED", "TENTATIVE"):
        return ReservationStatus.awaiting_confirmation, ROOM_WAITING
    return status, reason


def _mirror(
    occurrence: Occurrence,
    change: Change,
    reservation_id: str,
    item: str,
    status: ReservationStatus,
    reason: str,
    origin: Origin = Origin.calendar,
) -> Reservation:
    return Reservation(
        id=reservation_id,
        item=item,
        start=occurrence.start,
        end=occurrence.end,
        status=status,
        origin=origin,
        uid=occurrence.uid,
        subject=occurrence.summary,
        organizer=occurrence.organizer,
        all_day=occurrence.all_day,
        recurrence_id=occurrence.recurrence_id,
        sequence=occurrence.sequence,
        provider_id=change.provider_id,
        provider_version=change.version,
        reason=reason,
    )


def _same_span(a: Reservation, b: Reservation) -> bool:
    return a.start == b.start and a.end == b.end


def _within(reservation: Reservation, window: Window) -> bool:
    return reservation.end > window.start and reservation.start < window.end


def _room_answer(
    change: Change, existing: Sequence[Reservation], actions: Sequence[Action], item: WorkplaceItem
) -> tuple[str | None, tuple[datetime, ...]]:
    """The room's answer and the occurrences it declines one by one (`room_answer`), or
    None when the binding names no room address or the calendar already shows it."""
    binding = item.binding
    if binding is None or not binding.room_address:
        return None, ()
    if change.room_decides and any(r.origin == Origin.workplace for r in existing):
        return None, ()  # calsync's own booking: the room answers it, not calsync
    statuses = {reservation_key(r): r.status for r in existing}
    statuses.update({reservation_key(a.reservation): a.reservation.status for a in actions})
    live = [(o, statuses[o.key]) for o in change.obj.occurrences if o.key in statuses]
    answer, declines = room_answer(
        [(o.recurrence_id, status) for o, status in live], change.obj.master.recurring
    )
    if answer is None or (binding.room_approves and answer != "DECLINED"):
        return None, ()  # the room's own approval speaks, unless calsync refused it all
    shown = _shown_partstat(change.obj, binding.room_address)
    if change.room_decides and shown == "DECLINED":
        return None, ()  # the room said no itself
    shown_declines = _shown_declines(change.obj, binding.room_address)
    within = {o.recurrence_id for o in change.obj.occurrences}
    if shown == answer and shown_declines & within == set(declines):
        return None, ()
    # Declines shown outside the window (an occurrence past) are kept as they are.
    return answer, tuple(sorted(set(declines) | (shown_declines - within)))


def room_answer(
    occurrences: Sequence[tuple[datetime | None, ReservationStatus]], recurring: bool
) -> tuple[str | None, tuple[datetime, ...]]:
    """The room's PARTSTAT for a calendar object whose occurrences (by RECURRENCE-ID)
    have these statuses: ACCEPTED when any is confirmed, else TENTATIVE when any waits
    for approval, else DECLINED when all were declined; None when none is live. With an
    accepted series, the declined occurrences are declined one by one."""
    live = [(rid, s) for rid, s in occurrences if s != ReservationStatus.cancelled]
    if not live:
        return None, ()
    held = {s for _, s in live}
    if ReservationStatus.confirmed in held or ReservationStatus.awaiting_confirmation in held:
        answer = "ACCEPTED"
    elif ReservationStatus.pending_approval in held:
        answer = "TENTATIVE"
    elif held <= _REFUSED:
        return "DECLINED", ()
    else:
        answer = "ACCEPTED"
    declines = tuple(
        sorted(rid for rid, s in live if s in _REFUSED and rid is not None and recurring)
    )
    return answer, declines


_REFUSED = frozenset({ReservationStatus.declined, ReservationStatus.conflicted})


def _shown_declines(obj: CalendarObject, room_address: str) -> set[datetime]:
    """The occurrences whose override shows the room declining."""
    address = room_address.lower()
    return {
        entry.recurrence_id
        for entry in obj.entries[1:]
        if entry.recurrence_id is not None
        and any(a.address == address and a.partstat == "DECLINED" for a in entry.attendees)
    }


def _shown_partstat(obj: CalendarObject, room_address: str) -> str | None:
    address = room_address.lower()
    for attendee in obj.master.attendees:
        if attendee.address == address:
            return attendee.partstat
    return None
