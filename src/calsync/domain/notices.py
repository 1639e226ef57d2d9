"""What approvers are told of the bookings waiting for them: recipients and message text.

An `ApprovalRequested` holds the facts of one request (the booking, the rule that matched
and why, who decides, when it expires). An `AddressBook` turns its performer into the
addresses to write to: a person is their address, a group its members, a role the
addresses configured for it. `notices_for(requests, book, ...)` gives one `Notice` per
recipient of each request (a digest of 0 minutes); `digest_notices(...)` gathers each
recipient's requests not yet told into one `Notice`, at most once every `every`.
A performer with nobody to write to is `Unaddressed`, with the reason, never dropped.

Only text is made here: sending it is `calsync.notify.mail`'s.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from calsync.domain.approvals import Approval, Group, Groups, Performer, Person, Role
from calsync.domain.bookings import Booking


@dataclass(frozen=True)
class ApprovalRequested:
    """One booking waiting for `performer`'s decision, as its approvers are told of it.
    Times are aware instants, shown on the item's clock (`time_zone`)."""

    reservation: str
    item: str
    time_zone: str
    subject: str
    organizer: str
    start: datetime
    end: datetime
    rule: str
    reason: str
    performer: Performer
    expires_at: datetime
    #: The approval's id once stored: what `calsync approvals` and the API decide by.
    approval_id: int | None = None

    @classmethod
    def of(
        cls, approval: Approval, booking: Booking, subject: str, reason: str
    ) -> ApprovalRequested:
        """The request of `approval` for `booking`; `reason` is its requirement's."""
        return cls(
            reservation=approval.reservation,
            item=booking.item,
            time_zone=booking.time_zone,
            subject=subject,
            organizer=booking.organizer,
            start=booking.start,
            end=booking.end,
            rule=approval.rule,
            reason=reason,
            performer=approval.performer,
            expires_at=approval.expires_at,
        )

    def local(self, when: datetime) -> datetime:
        return when.astimezone(ZoneInfo(self.time_zone))


@dataclass(frozen=True)
class AddressBook:
    """Where each performer is written to: the groups' members and each role's addresses
    (a role has no address of its own), all lower case."""

    groups: Groups = field(default_factory=dict)
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def recipients(self, performer: Performer) -> tuple[str, ...]:
        """The addresses to tell, sorted; none when the group or role has none."""
        if isinstance(performer, Person):
            return (performer.address.lower(),)
        if isinstance(performer, Group):
            return tuple(sorted(self.groups.get(performer.name, frozenset())))
        return tuple(sorted(self.roles.get(performer.name, frozenset())))

    def why_nobody(self, performer: Performer) -> str:
        """Why `performer` has no recipient, saying where to give one."""
        if isinstance(performer, Role):
            return (
                f"role {performer.name} has no address to write to: give it in "
                f"[approvals] role_addresses"
            )
        return f"{performer} has no member to write to: give it members in [groups]"


@dataclass(frozen=True)
class Notice:
    """One message to one recipient about one or more requests (`reservations`)."""

    recipient: str
    subject: str
    body: str
    reservations: tuple[str, ...]


@dataclass(frozen=True)
class Unaddressed:
    """A request whose performer has nobody to write to, and why."""

    reservation: str
    reason: str


@dataclass(frozen=True)
class NoticePlan:
    """The notices to send, and the requests that can be sent to nobody."""

    notices: tuple[Notice, ...] = ()
    unaddressed: tuple[Unaddressed, ...] = ()


def notices_for(
    requests: Iterable[ApprovalRequested], book: AddressBook, decide_url: str = ""
) -> NoticePlan:
    """One notice per recipient of each request, as soon as it is made."""
    notices: list[Notice] = []
    unaddressed: list[Unaddressed] = []
    for request in requests:
        recipients = book.recipients(request.performer)
        if not recipients:
            unaddressed.append(_unaddressed(request, book))
        notices.extend(_notice(to, [request], decide_url) for to in recipients)
    return NoticePlan(tuple(notices), tuple(unaddressed))


def digest_notices(
    waiting: Iterable[ApprovalRequested],
    book: AddressBook,
    *,
    told: Collection[tuple[str, str]],
    last_sent: Mapping[str, datetime],
    now: datetime,
    every: timedelta,
    decide_url: str = "",
) -> NoticePlan:
    """One notice per recipient gathering the waiting requests they were not yet told of
    (`told` holds (reservation, recipient) pairs), for each recipient last sent one at
    least `every` ago (`last_sent`) or never; the others wait for a later round. A request
    already expired is told to nobody."""
    pending: dict[str, list[ApprovalRequested]] = {}
    unaddressed: list[Unaddressed] = []
    for request in waiting:
        if request.expires_at <= now:
            continue
        recipients = book.recipients(request.performer)
        if not recipients:
            unaddressed.append(_unaddressed(request, book))
        for to in recipients:
            if (request.reservation, to) not in told:
                pending.setdefault(to, []).append(request)
    notices = tuple(
        _notice(to, requests, decide_url)
        for to, requests in sorted(pending.items())
        if to not in last_sent or now - last_sent[to] >= every
    )
    return NoticePlan(notices, tuple(unaddressed))


def _unaddressed(request: ApprovalRequested, book: AddressBook) -> Unaddressed:
    return Unaddressed(request.reservation, book.why_nobody(request.performer))


# --- the text -----------------------------------------------------------------------------


def _notice(to: str, requests: Sequence[ApprovalRequested], decide_url: str) -> Notice:
    ordered = sorted(requests, key=lambda r: (r.expires_at, r.start, r.reservation))
    if len(ordered) == 1:
        # Short: a longer subject is folded, and some readers show the fold.
        subject = f"Approval needed: {_one_line(ordered[0].item)}, {_span(ordered[0], zone=False)}"
        opening = "A booking waits for your approval."
    else:
        subject = f"Approval needed: {len(ordered)} bookings wait for your decision"
        opening = f"{len(ordered)} bookings wait for your approval, the first to expire first."
    blocks = [_request_text(request, decide_url) for request in ordered]
    if len(blocks) > 1:
        count = len(blocks)
        blocks = [f"--- {n} of {count} ---\n{b}" for n, b in enumerate(blocks, start=1)]
    body = "\n\n".join([opening, *blocks]) + "\n"
    return Notice(to, subject, body, tuple(r.reservation for r in ordered))


def _request_text(request: ApprovalRequested, decide_url: str) -> str:
    expires = request.local(request.expires_at)
    lines = [
        f"Booking:     {_one_line(request.subject) or '(no subject)'}",
        f"Item:        {_one_line(request.item)}",
        f"When:        {_span(request)}",
        f"Organizer:   {_one_line(request.organizer) or '(unknown)'}",
        f"Reservation: {request.reservation}",
        f"Rule:        {_one_line(request.rule)}",
        f"Why:         {_one_line(request.reason)}",
        f"Decided by:  {request.performer}",
        f"Expires:     {expires:%a %d %b %Y %H:%M} ({request.time_zone}); undecided by "
        "then, the booking is declined",
        "To decide:",
        f"  calsync approvals approve {request.reservation}",
        f'  calsync approvals reject {request.reservation} --reason "..."',
    ]
    if decide_url and request.approval_id is not None:
        base = f"{decide_url.rstrip('/')}/api/v1/approvals/{request.approval_id}"
        lines.append(f"  or POST {base}/approve (or {base}/reject with a reason)")
    return "\n".join(lines)


def _span(request: ApprovalRequested, zone: bool = True) -> str:
    """`Tue 08 Dec 2026 14:00-16:00 (Europe/Berlin)` on the item's clock, the end's date
    said when it differs."""
    start, end = request.local(request.start), request.local(request.end)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %Y %H:%M}"
    span = f"{start:%a %d %b %Y %H:%M}-{until}"
    return f"{span} ({request.time_zone})" if zone else span


_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text: str) -> str:
    """Text from a calendar, on one line: a subject cannot forge lines of the message."""
    return _CONTROL.sub("", _SPACES.sub(" ", text)).strip()
