"""The seam's writes for services that store whole iCalendar objects (CalDAV, the
in-memory test provider): a booking rendered as a VCALENDAR, an edit as a
read-modify-write of the object's text at the version it was read.

`ICalendarObjects` is mixed into an adapter that has the byte-level `create`, `update`
and `delete` of one object (If-None-Match / If-Match on the version)."""

from __future__ import annotations

from calsync.errors import ProviderRejected
from calsync.providers.base import (
    Booking,
    Edit,
    Exchange,
    ObjectReaderFunction,
    OccurrenceCancel,
    OccurrenceMove,
    RoomAnswer,
    WriteResult,
)
from calsync.providers.ical.edits import cancel_occurrence, decline_occurrences, reschedule
from calsync.providers.ical.reader import object_uid, read_payload
from calsync.providers.ical.writer import render_reservation, with_room_partstat


class ICalendarObjects:
    """Books, rebooks and edits as whole iCalendar objects."""

    def object_reader(self) -> ObjectReaderFunction:
        return read_payload

    def create(self, calendar: str, uid: str, data: bytes) -> WriteResult:
        raise NotImplementedError

    def update(
        self, calendar: str, provider_id: str, data: bytes, version: str | None
    ) -> WriteResult:
        raise NotImplementedError

    def delete(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        raise NotImplementedError

    def uid_of(self, data: bytes) -> str:
        return object_uid(data)

    def payload_of(self, booking: Booking) -> str:
        return render(booking).decode()

    def book(self, calendar: str, booking: Booking) -> WriteResult:
        return self.create(calendar, booking.uid, render(booking))

    def rebook(
        self, calendar: str, provider_id: str, booking: Booking, version: str | None
    ) -> WriteResult:
        return self.update(calendar, provider_id, render(booking), version)

    def cancel(self, calendar: str, provider_id: str, version: str | None) -> Exchange:
        return self.delete(calendar, provider_id, version)

    def edit(
        self, calendar: str, provider_id: str, version: str, base: bytes | None, edit: Edit
    ) -> WriteResult:
        if base is None:
            raise ProviderRejected(f"{provider_id}: no text of version {version} to edit")
        edited = edited_text(base, edit)
        if edited is None:  # nothing left in it: the object goes
            return WriteResult(provider_id, None, self.delete(calendar, provider_id, version))
        return self.update(calendar, provider_id, edited, version)


def render(booking: Booking) -> bytes:
    return render_reservation(
        uid=booking.uid,
        start=booking.start,
        end=booking.end,
        all_day=booking.all_day,
        zone=booking.zone,
        summary=booking.subject,
        organizer=booking.organizer,
        room_address=booking.room_address,
        room_name=booking.room_name,
        sequence=booking.sequence,
        partstat="ACCEPTED",
        dtstamp=booking.written_at,
    )


def edited_text(data: bytes, edit: Edit) -> bytes | None:
    """`data` with `edit` made; None: nothing is left of the object."""
    match edit:
        case RoomAnswer():
            answered = with_room_partstat(data, edit.room_address, edit.partstat)
            if edit.declined:
                answered = decline_occurrences(answered, edit.room_address, edit.declined)
            return answered
        case OccurrenceCancel():
            return cancel_occurrence(data, edit.recurrence_id, edit.written_at)
        case OccurrenceMove():
            return reschedule(
                data,
                edit.recurrence_id,
                edit.start,
                edit.end,
                edit.subject,
                edit.zone,
                edit.written_at,
            )
