"""The worker's loop: `run_forever(services)` and `enqueue_due_polls(services)`.

`enqueue_due_polls` queues a read for every bound item not read for a poll interval.
Any number of workers may poll at once: one due poll is queued once
(`EventRepository.queue_read`).

Push notifications are only hints that providers may drop; polling always stays on
(`sync.poll_seconds`, default five minutes). A poll is an ordinary read event, so it is
retried, logged and coalesced like any other.

`run_forever` is the service an operator runs under systemd or Kubernetes: it runs up to
`sync.push_concurrency` events side by side (`Dispatcher`), touches a liveness file on
every turn of its loop (`liveness_age` reads it for `calsync worker --check`), and when
`stop` is set it claims nothing more, lets the events in hand finish for
`sync.stop_grace_seconds` and gives back the claims of those still running. Once every
`retention.interval_minutes` it purges what `[retention]` no longer keeps
(`calsync.store.retention`, in transactions of `retention.batch` rows). On every turn it
releases the no-shows of items that require check-in (`calsync.sync.check_in`), with one
log line for a run that released any. With `[push] address` set, it keeps the push
channels of bound calendars open, renewed and stopped (`calsync.worker.channels`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from calsync.bootstrap import Services
from calsync.errors import CalsyncError
from calsync.store.records import Claim
from calsync.store.retention import purge, purge_due
from calsync.sync.approval_notices import notify_approvers
from calsync.sync.approvals import expire_due
from calsync.sync.check_in import release_no_shows
from calsync.sync.room_answers import recheck_awaiting
from calsync.worker.channels import ChannelUpkeep
from calsync.worker.dispatch import Dispatcher
from calsync.worker.runner import RunResult, claim_next


def _approvals(services: Services) -> None:
    """Expire what ran out of time, then tell approvers of what waits for them."""
    expiry = expire_due(services)
    if expiry.expired:
        log.info(
            "expired %d approvals undecided in time (declined; answers queued: events %s)",
            len(expiry.expired),
            ", ".join(str(e) for e in expiry.events) or "none",
        )
    told = notify_approvers(services)
    if told.sent or told.failed:
        log.info(
            "told approvers: %d mails sent, %d failed%s",
            len(told.sent),
            len(told.failed),
            f" ({told.failed[0].reason})" if told.failed else "",
        )


def enqueue_due_polls(services: Services) -> list[int]:
    """The read events queued (or already waiting) for items whose poll is due."""
    interval = timedelta(seconds=services.settings.sync.poll_seconds)
    now = services.clock()
    with services.uow() as uow:
        due = [
            stored
            for stored in uow.items.all()
            if stored.item.binding is not None
            and stored.item.binding.active
            and (stored.synchronized_at is None or stored.synchronized_at + interval <= now)
        ]
    queued = []
    for stored in due:
        payload = {"item": stored.item.name, "full": False, "confirm_sweep": False}
        with services.uow() as uow:
            # Checked again under the item's queue lock: another worker may have queued
            # (or even run) this poll since the list above was read.
            event_id = uow.events.queue_read(stored.id, now, payload, due_before=now - interval)
            uow.commit()
        if event_id is not None:
            queued.append(event_id)
    return queued


log = logging.getLogger("calsync.worker")


def release_due_no_shows(services: Services) -> list[str]:
    """Release the reservations that are no-shows now; one log line if any was."""
    done = release_no_shows(services)
    if done.released:
        log.info(
            "released %d no-shows (not checked in within their grace period): %s",
            len(done.released),
            ", ".join(done.released),
        )
    return done.released


class Retention:
    """The worker's share of `[retention]`: a purge once every interval (at start first)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.last: datetime | None = None

    def purge_if_due(self) -> None:
        now = self.services.clock()
        if not purge_due(self.services, self.last, now):
            return
        self.last = now
        try:
            report = purge(self.services, now)
        except (CalsyncError, SQLAlchemyError) as exc:
            # Another worker purging at the same moment, say: the next interval tries again.
            log.warning("purge failed, tried again in an interval: %s", exc)
            return
        if report.events or report.calendar_items or report.synchronizations:
            log.info(
                "purged %d events, %d calendar items, %d synchronizations",
                report.events,
                report.calendar_items,
                report.synchronizations,
            )


def run_forever(
    services: Services,
    idle_seconds: float = 1.0,
    stop: threading.Event | None = None,
    liveness: Path | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[Claim]:
    """Poll what is due and run the queue until `stop` is set; the claims given back."""
    stop = stop or threading.Event()
    report = on_result or (lambda _: None)
    settings = services.settings.sync
    dispatcher = Dispatcher(services, settings.push_concurrency)
    retention = Retention(services)
    channels = ChannelUpkeep(services)

    def claim(limit: int, kind: str) -> list[Claim]:
        if stop.is_set():
            dispatcher.stop()
            return []
        return claim_next(services, limit, kind)

    def tick() -> None:
        """Apart from the dispatcher, which asks for claims only when a slot is free: a
        worker whose every slot runs a long read stays alive to its probe and keeps
        queueing the polls that fall due."""
        while not stop.is_set():
            try:
                if liveness is not None:
                    liveness.touch()
                enqueue_due_polls(services)
                recheck_awaiting(services)
                _approvals(services)
                release_due_no_shows(services)
                retention.purge_if_due()
                channels.keep_if_due()
            except (CalsyncError, SQLAlchemyError, OSError) as exc:
                log.warning("queueing due polls failed, tried again in a moment: %s", exc)
            except Exception:
                log.exception("queueing due polls failed unexpectedly; tried again in a moment")
            stop.wait(idle_seconds)

    def watch() -> None:
        stop.wait()
        dispatcher.stop()

    if liveness is not None:
        liveness.touch()
    threading.Thread(target=tick, name="ticker", daemon=True).start()
    threading.Thread(target=watch, daemon=True).start()
    dispatcher.run(claim, report, idle=idle_seconds)
    return dispatcher.drain(settings.stop_grace_seconds, report)


def run_due(services: Services) -> list[RunResult]:
    """Run what is due now, `sync.push_concurrency` events at once, until nothing is
    (`calsync worker --once`); the results."""
    results: list[RunResult] = []
    dispatcher = Dispatcher(services, services.settings.sync.push_concurrency)
    try:
        dispatcher.run(lambda limit, kind: claim_next(services, limit, kind), results.append)
    finally:
        dispatcher.close()
    return results


def liveness_age(path: Path) -> float | None:
    """Seconds since the worker last touched its liveness file; None if it never did."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except FileNotFoundError:
        return None
