"""Pieces of applying calendar items that the end-to-end tests do not pin down alone."""

from __future__ import annotations

import uuid

from calsync.sync.apply import reservation_ids


def test_reservation_ids_are_distinct_random_uuids_across_buffer_refills():
    next_id = reservation_ids()
    ids = [next_id() for _ in range(3000)]  # about three buffers of randomness
    assert len(set(ids)) == 3000
    assert {uuid.UUID(i).version for i in ids} == {4}
    assert {uuid.UUID(i).variant for i in ids} == {uuid.RFC_4122}
    assert all(str(uuid.UUID(i)) == i for i in ids)  # canonical text, as the database keeps it
    assert {i[19] for i in ids} == set("89ab")  # every variant digit turns up
    assert reservation_ids()() not in ids  # another run draws other ids
