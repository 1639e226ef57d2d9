"""`next_attempt(...)`: when to try a failed event again, or None to give up. Pure.

Exponential backoff with full jitter (base · 2^(attempt-1), capped), never sooner than
the provider's `Retry-After`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random


def next_attempt(
    attempt: int,
    max_attempts: int,
    now: datetime,
    retry_after: float | None,
    base: float,
    cap: float,
    rng: Random,
) -> datetime | None:
    if attempt >= max_attempts:
        return None
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)
