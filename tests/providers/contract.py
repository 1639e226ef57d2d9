"""The contract every provider adapter keeps, written once (as vdirsyncer's StorageTests).

It speaks the seam's words only (`calsync.providers.base.Provider`): book, rebook,
cancel, read changes, get, locate, edit someone else's meeting (answer as the room,
cancel or move one occurrence), name and list a series' instances, and the adapter's own
reader for its payloads. A test module subclasses `ProviderContract` and supplies the
`provider` and `calendar` fixtures, and an `organizer` who puts someone else's series in
the room's calendar as that service's users do: the in-memory provider directly, the
CalDAV adapter against a real Radicale, the Google adapter against its emulator. Where
services differ, the adapter's `Capabilities` say how, never its kind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import pytest

from calsync.domain.entries import Occurrence, Window
from calsync.errors import DeltaKeyExpired, ObjectExists, ProviderRejected
from calsync.providers.base import (
    Booking,
    ChangeBatch,
    Edit,
    OccurrenceCancel,
    OccurrenceMove,
    Provider,
    RemoteChange,
    RoomAnswer,
    WriteResult,
)

ROOM = "room-1@resource.example.com"
ZONE = "Europe/Berlin"
WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
#: No service hands out a delta key like it.
MADE_UP_KEY = "http://radicale.org/ns/sync/" + "0" * 64


def booking(uid: str, subject: str = "Meeting", day: int = 3) -> Booking:
    """calsync's booking of the room: one hour on `day` December 2026 (each test puts its
    bookings on different days, so that a room that decides for itself declines none)."""
    return Booking(
        uid=uid,
        start=datetime(2026, 12, day, 10, tzinfo=UTC),
        end=datetime(2026, 12, day, 11, tzinfo=UTC),
        all_day=False,
        zone=ZONE,
        subject=subject,
        organizer="carol@example.com",
        room_address=ROOM,
        room_name="Room 1",
        sequence=0,
        written_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


#: When calsync edits someone else's meeting in the contract's tests.
EDITED_AT = datetime(2026, 11, 2, tzinfo=UTC)


class Organizer(Protocol):
    """Someone else who books the room at the service, as its users do."""

    def series(self, calendar: str, uid: str, count: int) -> None:
        """A daily meeting of `count` occurrences from 7 December 2026, 10:00-11:00 UTC
        (Berlin wall time), organized by Alice, the room invited and not yet answering."""
        ...

    def one_occurrence(self, calendar: str, uid: str) -> None:
        """The room invited to the 8 December occurrence of such a series only: the
        calendar holds that occurrence and nothing else of the series."""
        ...


def at(day: int, hour: int) -> datetime:
    """`hour` o'clock UTC on `day` December 2026."""
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def occurrences(
    provider: Provider, calendar: str
) -> dict[datetime, tuple[RemoteChange, Occurrence]]:
    """Each occurrence of a series in the calendar by its original start (RECURRENCE-ID),
    with the object that holds it (one object per series, or one per instance)."""
    found = {}
    for change in provider.fetch_changes(calendar, None).changes:
        read = provider.object_reader()((change.data or b"").decode(), ZONE, WINDOW)
        for occurrence in read.occurrences:
            assert occurrence.recurrence_id is not None
            found[occurrence.recurrence_id] = (change, occurrence)
    return found


def spans(provider: Provider, calendar: str) -> dict[datetime, tuple[datetime, datetime, str]]:
    """Each occurrence's original start → its start, end and summary now."""
    return {
        original: (o.start, o.end, o.summary)
        for original, (_, o) in occurrences(provider, calendar).items()
    }


def room_answers(provider: Provider, calendar: str) -> dict[datetime, str]:
    """Each occurrence's original start → the room's PARTSTAT in the entry holding it."""
    found = {}
    for original, (change, _) in occurrences(provider, calendar).items():
        read = provider.object_reader()((change.data or b"").decode(), ZONE, WINDOW)
        entry = next((e for e in read.entries if e.recurrence_id == original), read.master)
        [room] = [a for a in entry.attendees if a.address == ROOM]
        found[original] = room.partstat
    return found


def edit_occurrence(
    provider: Provider, calendar: str, original: datetime, edit: Edit
) -> WriteResult:
    """`edit` made to the object holding the occurrence `original`, at its version."""
    change, _ = occurrences(provider, calendar)[original]
    assert change.version is not None
    return provider.edit(calendar, change.provider_id, change.version, change.data, edit)


def moved_to(
    day: int, hour: int, subject: str = "Planning", original: datetime | None = None
) -> OccurrenceMove:
    return OccurrenceMove(original, at(day, hour), at(day, hour + 1), subject, ZONE, EDITED_AT)


def subject_of(provider: Provider, change: RemoteChange) -> tuple[str, str]:
    """(UID, subject) of a changed object, read by the adapter's own reader."""
    read = provider.object_reader()((change.data or b"").decode(), ZONE, WINDOW)
    return read.uid, read.master.summary


def subjects(provider: Provider, batch: ChangeBatch) -> dict[str, str]:
    return dict(subject_of(provider, c) for c in batch.changes if not c.removed)


class ProviderContract:
    def test_a_full_listing_holds_every_object_with_its_version(self, provider, calendar):
        made = [provider.book(calendar, booking(uid, day=d)) for d, uid in enumerate("abc", 2)]
        batch = provider.fetch_changes(calendar, None)
        assert batch.full
        if provider.capabilities.delta_keys:
            assert batch.delta_key
        assert {(c.provider_id, c.version) for c in batch.changes} == {
            (m.provider_id, m.version) for m in made
        }

    def test_a_booking_reads_back_as_booked(self, provider, calendar):
        provider.book(calendar, booking("a", "Board meeting"))
        [change] = provider.fetch_changes(calendar, None).changes
        read = provider.object_reader()((change.data or b"").decode(), ZONE, WINDOW)
        [occurrence] = read.occurrences
        assert (read.uid, read.master.summary) == ("a", "Board meeting")
        assert (occurrence.start, occurrence.end) == (
            datetime(2026, 12, 3, 10, tzinfo=UTC),
            datetime(2026, 12, 3, 11, tzinfo=UTC),
        )
        assert provider.uid_of(change.data or b"") == "a"

    def test_an_incremental_read_shows_exactly_what_changed(self, provider, calendar):
        if not provider.capabilities.delta_keys:
            pytest.skip("no delta keys: every read lists the calendar whole")
        kept = provider.book(calendar, booking("kept", day=2))
        edited = provider.book(calendar, booking("edited", day=3))
        gone = provider.book(calendar, booking("gone", day=4))
        key = provider.fetch_changes(calendar, None).delta_key
        provider.rebook(calendar, edited.provider_id, booking("edited", "Moved"), edited.version)
        provider.cancel(calendar, gone.provider_id, gone.version)
        provider.book(calendar, booking("new", day=5))
        batch = provider.fetch_changes(calendar, key)
        assert not batch.full
        assert subjects(provider, batch) == {"edited": "Moved", "new": "Meeting"}
        assert [c.provider_id for c in batch.changes if c.removed] == [gone.provider_id]
        assert kept.provider_id not in {c.provider_id for c in batch.changes}

    def test_nothing_changed_reads_nothing(self, provider, calendar):
        if not provider.capabilities.delta_keys:
            pytest.skip("no delta keys: every read lists the calendar whole")
        provider.book(calendar, booking("a"))
        key = provider.fetch_changes(calendar, None).delta_key
        assert provider.fetch_changes(calendar, key).changes == ()

    def test_a_made_up_delta_key_is_expired(self, provider, calendar):
        if not provider.capabilities.delta_keys:
            pytest.skip("no delta keys to expire")
        with pytest.raises(DeltaKeyExpired):
            provider.fetch_changes(calendar, MADE_UP_KEY)

    def test_booking_an_existing_uid_is_refused_naming_where_it_lives(self, provider, calendar):
        made = provider.book(calendar, booking("a"))
        with pytest.raises(ObjectExists) as refused:
            provider.book(calendar, booking("a", "Other"))
        assert refused.value.provider_id == made.provider_id
        assert subjects(provider, provider.fetch_changes(calendar, None)) == {"a": "Meeting"}

    def test_a_stale_version_is_refused_and_changes_nothing(self, provider, calendar):
        first = provider.book(calendar, booking("a"))
        provider.rebook(calendar, first.provider_id, booking("a", "Second"), first.version)
        with pytest.raises(ProviderRejected) as refused:
            provider.rebook(calendar, first.provider_id, booking("a", "Lost"), first.version)
        assert refused.value.status == 412
        assert subjects(provider, provider.fetch_changes(calendar, None)) == {"a": "Second"}

    def test_a_rebook_without_a_version_writes_over_whatever_is_there(self, provider, calendar):
        made = provider.book(calendar, booking("a"))
        provider.rebook(calendar, made.provider_id, booking("a", "Second"), made.version)
        moved = replace(booking("a", "Third"), sequence=1)
        provider.rebook(calendar, made.provider_id, moved, None)
        assert subjects(provider, provider.fetch_changes(calendar, None)) == {"a": "Third"}

    def test_locate_names_where_a_booking_puts_the_object(self, provider, calendar):
        made = provider.book(calendar, booking("a"))
        assert provider.locate(calendar, "a") == made.provider_id

    def test_get_returns_the_current_version(self, provider, calendar):
        made = provider.book(calendar, booking("a"))
        current = provider.get(calendar, made.provider_id)
        assert current.version == made.version
        assert subject_of(provider, current) == ("a", "Meeting")

    def test_get_of_a_cancelled_object_says_it_is_gone(self, provider, calendar):
        made = provider.book(calendar, booking("a"))
        provider.cancel(calendar, made.provider_id, made.version)
        with pytest.raises(ProviderRejected) as refused:
            provider.get(calendar, made.provider_id)
        assert refused.value.status in (404, 410)

    def test_cancelling_twice_is_harmless(self, provider, calendar):
        made = provider.book(calendar, booking("a"))
        provider.cancel(calendar, made.provider_id, made.version)
        provider.cancel(calendar, made.provider_id, None)
        assert provider.fetch_changes(calendar, None).changes == ()

    def test_check_proves_the_calendar_answers(self, provider, calendar):
        found = provider.check(calendar)
        assert found.delta_keys == provider.capabilities.delta_keys

    # Someone else's meeting: calsync edits only what it is entitled to

    def test_one_occurrence_of_someones_series_is_cancelled_and_the_others_stay(
        self, provider, calendar, organizer
    ):
        organizer.series(calendar, "s", 3)
        before = spans(provider, calendar)
        written = edit_occurrence(
            provider, calendar, at(8, 10), OccurrenceCancel(at(8, 10), EDITED_AT)
        )
        after = spans(provider, calendar)
        assert after == {k: v for k, v in before.items() if k != at(8, 10)}
        _written_is_what_get_shows(provider, calendar, written)

    def test_one_occurrence_is_moved_keeping_its_identity_and_the_others_stay(
        self, provider, calendar, organizer
    ):
        organizer.series(calendar, "s", 3)
        before = spans(provider, calendar)
        written = edit_occurrence(
            provider, calendar, at(8, 10), moved_to(8, 14, "Planning, later", at(8, 10))
        )
        assert spans(provider, calendar) == {
            **before,
            at(8, 10): (at(8, 14), at(8, 15), "Planning, later"),
        }
        _written_is_what_get_shows(provider, calendar, written)

    def test_an_occurrence_edit_of_a_stale_version_is_refused_and_changes_nothing(
        self, provider, calendar, organizer
    ):
        organizer.series(calendar, "s", 3)
        stale, _ = occurrences(provider, calendar)[at(8, 10)]
        edit_occurrence(provider, calendar, at(8, 10), moved_to(8, 14, original=at(8, 10)))
        held = spans(provider, calendar)
        assert stale.version is not None
        for edit in (
            moved_to(8, 16, original=at(8, 10)),
            OccurrenceCancel(at(8, 10), EDITED_AT),
            RoomAnswer(ROOM, "DECLINED", EDITED_AT),
        ):
            with pytest.raises(ProviderRejected) as refused:
                provider.edit(calendar, stale.provider_id, stale.version, stale.data, edit)
            assert refused.value.status == 412
        assert spans(provider, calendar) == held

    def test_cancelling_the_one_occurrence_the_room_was_invited_to_deletes_it(
        self, provider, calendar, organizer
    ):
        organizer.one_occurrence(calendar, "s")
        assert set(spans(provider, calendar)) == {at(8, 10)}
        written = edit_occurrence(
            provider, calendar, at(8, 10), OccurrenceCancel(at(8, 10), EDITED_AT)
        )
        assert written.version is None
        _written_is_what_get_shows(provider, calendar, written)
        assert spans(provider, calendar) == {}

    def test_the_room_answers_someones_meeting_and_nothing_else_changes(
        self, provider, calendar, organizer
    ):
        organizer.series(calendar, "s", 3)
        before = spans(provider, calendar)
        edit_occurrence(provider, calendar, at(8, 10), RoomAnswer(ROOM, "ACCEPTED", EDITED_AT))
        answers = room_answers(provider, calendar)
        assert answers[at(8, 10)] == "ACCEPTED"
        assert spans(provider, calendar) == before

    # Series whose instances are objects of their own

    def test_an_instance_names_its_series_whose_instances_are_listed_as_read(
        self, provider, calendar, organizer
    ):
        organizer.series(calendar, "s", 3)
        held = occurrences(provider, calendar)
        named = {provider.series_of(change.data or b"") for change, _ in held.values()}
        if not provider.capabilities.answers_series:
            assert named == {None}
            return
        [series_id] = named
        assert series_id is not None
        listed = provider.instances(calendar, series_id, Window(at(8, 0), at(10, 0)))
        assert {(c.provider_id, c.version) for c in listed} == {
            (change.provider_id, change.version)
            for original, (change, _) in held.items()
            if original >= at(8, 0)
        }

    def test_an_answer_on_the_series_reaches_every_instance(self, provider, calendar, organizer):
        if not provider.capabilities.answers_series:
            pytest.skip("a series is one object: answering it answers every occurrence")
        organizer.series(calendar, "s", 3)
        [change, *_] = [change for change, _ in occurrences(provider, calendar).values()]
        series_id = provider.series_of(change.data or b"")
        assert series_id is not None
        series = provider.get(calendar, series_id)
        assert series.version is not None
        answer = RoomAnswer(ROOM, "ACCEPTED", EDITED_AT)
        provider.edit(calendar, series_id, series.version, series.data, answer)
        assert set(room_answers(provider, calendar).values()) == {"ACCEPTED"}

    def test_the_instances_of_an_unknown_series_are_refused_as_gone(self, provider, calendar):
        if not provider.capabilities.answers_series:
            pytest.skip("a series is one object: it has no instances of its own")
        with pytest.raises(ProviderRejected) as refused:
            provider.instances(calendar, "nosuchseries", WINDOW)
        assert refused.value.status in (404, 410)


def _written_is_what_get_shows(provider: Provider, calendar: str, written: WriteResult) -> None:
    """An edit's result names the version the object now has, or None when the edit left
    nothing of it and it is gone."""
    if written.version is None:
        with pytest.raises(ProviderRejected) as refused:
            provider.get(calendar, written.provider_id)
        assert refused.value.status in (404, 410)
    else:
        assert provider.get(calendar, written.provider_id).version == written.version
