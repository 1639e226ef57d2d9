"""A booking as the booking policy and the approval rules see it: the facts they judge.

`Booking.of(item, start, end, organizer, recurring)` gathers them from the workplace item
and the occurrence; `Booking.local(when)` reads an instant on the item's wall clock.
`in_words(span)` says a duration as a person would (`2 hours 30 minutes`).
`address_in(address, who)` says whether an address is among addresses or domains, as the
policy's `book_in_policy` and an approval rule's `organizers` name people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from calsync.domain.items import ItemKind, Location, WorkplaceItem


@dataclass(frozen=True)
class Booking:
    """One span of one item asked for by one organizer. Start and end are aware instants;
    `time_zone` is the item's, in which working hours and times of day are read."""

    item: str
    kind: ItemKind
    location: Location
    capacity: int
    time_zone: str
    organizer: str
    start: datetime
    end: datetime
    recurring: bool = False

    @classmethod
    def of(
        cls,
        item: WorkplaceItem,
        start: datetime,
        end: datetime,
        organizer: str = "",
        recurring: bool = False,
    ) -> Booking:
        return cls(
            item=item.name,
            kind=item.kind,
            location=item.location,
            capacity=item.capacity,
            time_zone=item.time_zone,
            organizer=organizer.lower(),
            start=start,
            end=end,
            recurring=recurring,
        )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def local(self, when: datetime) -> datetime:
        """`when` on the item's wall clock."""
        return when.astimezone(ZoneInfo(self.time_zone))


def address_in(address: str, who: Iterable[str]) -> bool:
    """Whether `address` is one of `who`: an entry with an @ is one address, any other a
    whole domain (`example.com` is everyone at example.com, not at its subdomains).
    Letter case does not count."""
    address = address.lower()
    domain = address.rpartition("@")[2] if "@" in address else ""
    for entry in who:
        entry = entry.lower().removeprefix("@")
        if entry == address or (domain and "@" not in entry and entry == domain):
            return True
    return False


def in_words(span: timedelta) -> str:
    """A duration in days, hours and minutes: `1 day 2 hours`, `30 minutes`."""
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{count} {unit}{'' if count == 1 else 's'}"
        for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if count
    ]
    return " ".join(parts) or "0 minutes"
