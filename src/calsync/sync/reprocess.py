"""`reprocess(services, event_id)` and `reprocess_failed(services, filter)`.

An event in `error` goes back to `new`, keeping its payloads, so the worker runs it
again; its last error stays visible until it succeeds. Reprocessing an event that is not
in error changes nothing, so reprocessing twice is safe. A read event reruns a
synchronization from the stored delta key, which pulls the same changes again.
"""

from __future__ import annotations

from calsync.bootstrap import Services
from calsync.domain.events import EventState
from calsync.store.records import RecordFilter


def reprocess(services: Services, event_id: int) -> bool:
    """True if the event was in error and is queued again."""
    with services.uow() as uow:
        event = uow.events.get(event_id)  # an unknown id is NotFound
        if event.state != EventState.error.value:
            return False
        # Written only over an event still in error: another reprocess may have queued it
        # and its run claimed it since this one read it.
        queued = uow.events.requeue_failed(event_id, services.clock())
        uow.commit()
    return queued


def reprocess_failed(services: Services, where: RecordFilter) -> list[int]:
    with services.uow() as uow:
        failed = uow.events.find(
            RecordFilter(
                item_id=where.item_id,
                status=EventState.error.value,
                action=where.action,
                since=where.since,
                until=where.until,
                limit=where.limit,
            )
        )
        ids = [event.id for event in failed]
    return [event_id for event_id in ids if reprocess(services, event_id)]
