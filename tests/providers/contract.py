"""The contract every provider adapter keeps, written once (as vdirsyncer's StorageTests).

A test module subclasses `ProviderContract` and supplies the `provider` and `calendar`
fixtures: the CalDAV adapter against a real Radicale, the in-memory provider directly.
"""

from __future__ import annotations

import pytest

from calsync.errors import DeltaKeyExpired, ObjectExists, ProviderRejected


def entry(uid: str, summary: str = "Meeting") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261203T100000Z\r\n"
        f"DTEND:20261203T110000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def summaries(batch) -> dict[str, str]:
    found = {}
    for change in batch.changes:
        if not change.removed:
            text = (change.data or b"").decode()
            uid = text.split("UID:")[1].split("\r\n")[0]
            found[uid] = text.split("SUMMARY:")[1].split("\r\n")[0]
    return found


class ProviderContract:
    def test_a_full_listing_holds_every_object_with_its_version(self, provider, calendar):
        made = [provider.create(calendar, uid, entry(uid)) for uid in ("a", "b", "c")]
        batch = provider.fetch_changes(calendar, None)
        assert batch.full
        assert batch.delta_key
        assert {(c.provider_id, c.version) for c in batch.changes} == {
            (m.provider_id, m.version) for m in made
        }

    def test_an_incremental_read_shows_exactly_what_changed(self, provider, calendar):
        kept = provider.create(calendar, "kept", entry("kept"))
        edited = provider.create(calendar, "edited", entry("edited"))
        gone = provider.create(calendar, "gone", entry("gone"))
        key = provider.fetch_changes(calendar, None).delta_key
        provider.update(calendar, edited.provider_id, entry("edited", "Moved"), edited.version)
        provider.delete(calendar, gone.provider_id, gone.version)
        provider.create(calendar, "new", entry("new"))
        batch = provider.fetch_changes(calendar, key)
        assert not batch.full
        assert summaries(batch) == {"edited": "Moved", "new": "Meeting"}
        assert [c.provider_id for c in batch.changes if c.removed] == [gone.provider_id]
        assert kept.provider_id not in {c.provider_id for c in batch.changes}

    def test_nothing_changed_reads_nothing(self, provider, calendar):
        provider.create(calendar, "a", entry("a"))
        key = provider.fetch_changes(calendar, None).delta_key
        assert provider.fetch_changes(calendar, key).changes == ()

    def test_a_made_up_delta_key_is_expired(self, provider, calendar):
        with pytest.raises(DeltaKeyExpired):
            provider.fetch_changes(calendar, "http://radicale.org/ns/sync/" + "0" * 64)

    def test_creating_an_existing_uid_is_refused_naming_where_it_lives(self, provider, calendar):
        made = provider.create(calendar, "a", entry("a"))
        with pytest.raises(ObjectExists) as refused:
            provider.create(calendar, "a", entry("a", "Other"))
        assert refused.value.status == 412
        assert refused.value.provider_id == made.provider_id

    def test_a_stale_version_is_refused_and_changes_nothing(self, provider, calendar):
        first = provider.create(calendar, "a", entry("a"))
        provider.update(calendar, first.provider_id, entry("a", "Second"), first.version)
        with pytest.raises(ProviderRejected) as refused:
            provider.update(calendar, first.provider_id, entry("a", "Lost"), first.version)
        assert refused.value.status == 412
        assert summaries(provider.fetch_changes(calendar, None)) == {"a": "Second"}

    def test_locate_names_where_a_create_puts_the_object(self, provider, calendar):
        made = provider.create(calendar, "a", entry("a"))
        assert provider.locate(calendar, "a") == made.provider_id

    def test_get_returns_the_current_version(self, provider, calendar):
        made = provider.create(calendar, "a", entry("a"))
        current = provider.get(calendar, made.provider_id)
        assert current.version == made.version
        assert b"UID:a" in (current.data or b"")

    def test_deleting_twice_is_harmless(self, provider, calendar):
        made = provider.create(calendar, "a", entry("a"))
        provider.delete(calendar, made.provider_id, made.version)
        provider.delete(calendar, made.provider_id, None)
        assert provider.fetch_changes(calendar, None).changes == ()
