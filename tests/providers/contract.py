"""The contract every provider adapter keeps, written once (as vdirsyncer's StorageTests).

It speaks the seam's words only (`calsync.providers.base.Provider`): book, rebook,
cancel, read changes, get, locate, and the adapter's own reader for its payloads. A test
module subclasses `ProviderContract` and supplies the `provider` and `calendar` fixtures:
the in-memory provider directly, the CalDAV adapter against a real Radicale, the Google
adapter against its emulator. Where services differ, the adapter's `Capabilities` say
how, never its kind.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from calsync.domain.entries import Window
from calsync.errors import DeltaKeyExpired, ObjectExists, ProviderRejected
from calsync.providers.base import Booking, ChangeBatch, Provider, RemoteChange

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
