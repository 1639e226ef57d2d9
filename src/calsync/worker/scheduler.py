"""The worker's loop: `run_forever(services)` and `enqueue_due_polls(services)`.

`enqueue_due_polls` queues a read for every bound item not read for a poll interval.

Push notifications are only hints that providers may drop; polling always stays on
(`sync.poll_seconds`, default five minutes). A poll is an ordinary read event, so it is
retried, logged and coalesced like any other.
"""

from __future__ import annotations

import time
from datetime import timedelta

from calsync.bootstrap import Services
from calsync.worker.runner import request_sync, run_once


def enqueue_due_polls(services: Services) -> list[int]:
    """The read events queued (or already waiting) for items whose poll is due."""
    interval = timedelta(seconds=services.settings.sync.poll_seconds)
    now = services.clock()
    with services.uow() as uow:
        due = [
            stored.item.name
            for stored in uow.items.all()
            if stored.item.binding is not None
            and stored.item.binding.active
            and (stored.synchronized_at is None or stored.synchronized_at + interval <= now)
        ]
    return [request_sync(services, name) for name in due]


def run_forever(services: Services, idle_seconds: float = 1.0) -> None:
    """Poll what is due and run the queue, until stopped; sleep while there is nothing."""
    while True:
        enqueue_due_polls(services)
        if not run_once(services):
            time.sleep(idle_seconds)
