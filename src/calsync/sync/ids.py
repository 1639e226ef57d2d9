"""Ids of reservations: time-ordered UUIDs (version 7, RFC 9562), as text.

`reservation_id()` makes one; `reservation_ids()` makes a generator for a batch of writes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: The variant digit of an RFC 9562 UUID (bits 10xx) from any random hex digit.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def reservation_ids() -> Callable[[], str]:
    """Time-ordered (version 7, RFC 9562) UUIDs, as text: 48 bits of Unix milliseconds,
    then randomness cut from a buffer (one system call per thousand reservations, no
    `uuid.UUID` object per id: a large synchronization makes tens of thousands).

    Ids made one after the other land side by side in the primary key's B-tree instead of
    all over it: SQLite inserts 59,335 reservations in 1.3 s instead of 1.6 s
    (`bench/reservation_ids.py`). One generator per batch of writes."""
    digits, used = "", 0

    def next_id() -> str:
        nonlocal digits, used
        if used + 19 > len(digits):
            digits, used = os.urandom(10 * 1024).hex(), 0
        r = digits[used : used + 19]
        used += 19
        return _uuid7(r)

    return next_id


def reservation_id() -> str:
    """One id, for one reservation."""
    return _uuid7(os.urandom(10).hex())


def _uuid7(random_digits: str) -> str:
    """48 bits of Unix milliseconds, the version, 12 random bits, the variant, 62 random
    bits; `random_digits` holds at least 19 random hex digits."""
    t, r = f"{time.time_ns() // 1_000_000:012x}", random_digits
    return f"{t[:8]}-{t[8:]}-7{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:19]}"
