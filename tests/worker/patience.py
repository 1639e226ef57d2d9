"""Waiting for what a worker does in its own threads, without betting on how fast a loaded
machine gets there: wait until it is done, for as long as a test gone wrong may take."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Long past what a live worker needs on a loaded machine (it needs a fraction of a
#: second); only a test whose worker never does what it waits for waits it out.
PATIENCE_SECONDS = 60.0


def wait_until(condition: Callable[[], object], seconds: float = PATIENCE_SECONDS) -> bool:
    """Whether `condition()` came true within `seconds`, asked every 50 ms."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
