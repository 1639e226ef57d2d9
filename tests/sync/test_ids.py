"""Reservation ids: time-ordered UUIDs (version 7)."""

from __future__ import annotations

import time
import uuid

from calsync.sync.ids import reservation_id, reservation_ids


def test_reservation_ids_are_distinct_time_ordered_uuids_across_buffer_refills():
    next_id = reservation_ids()
    before_ms = time.time_ns() // 1_000_000
    ids = [next_id() for _ in range(3000)]  # about three buffers of randomness
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == 3000
    assert {uuid.UUID(i).version for i in ids} == {7}
    assert {uuid.UUID(i).variant for i in ids} == {uuid.RFC_4122}
    assert all(str(uuid.UUID(i)) == i for i in ids)  # canonical text, as the database keeps it
    assert {i[19] for i in ids} == set("89ab")  # every variant digit turns up
    stamps = [uuid.UUID(i).int >> 80 for i in ids]  # the leading 48 bits: Unix milliseconds
    assert before_ms <= min(stamps) <= max(stamps) <= after_ms
    assert stamps == sorted(stamps)  # made later, sorted later: side by side in an index
    time.sleep(0.002)
    assert reservation_ids()() > max(ids)  # another run, later: after all of them


def test_one_reservation_id_is_a_version_7_uuid_of_now():
    before_ms = time.time_ns() // 1_000_000
    made = reservation_id()
    assert uuid.UUID(made).version == 7
    assert str(uuid.UUID(made)) == made
    assert before_ms <= uuid.UUID(made).int >> 80 <= time.time_ns() // 1_000_000
