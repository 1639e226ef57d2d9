"""`send_outbound(services, item_ids)`: send the items' due outbound events now, side by
side (`calsync sync` after its reads).

Events of different calendar objects go out concurrently, up to `sync.push_concurrency`
at once per connection (one `Dispatcher` per connection, run one after another); two
events of one reservation never run at once and keep their order (the claim sees to it).
Each event is claimed only when a slot is free, so it starts within its lease.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from calsync.bootstrap import Services
from calsync.domain.events import EventState
from calsync.store.records import Claim
from calsync.worker.dispatch import Dispatcher
from calsync.worker.runner import RunResult, lease_of


@dataclass
class OutboundReport:
    """Per item id: events sent, ended in error, and put back for a later retry."""

    sent: Counter[int] = field(default_factory=Counter)
    failed: Counter[int] = field(default_factory=Counter)
    retrying: Counter[int] = field(default_factory=Counter)

    def total(self, counter: Counter[int]) -> int:
        return sum(counter.values())


def pending_outbound(services: Services, item_ids: Collection[int]) -> int:
    with services.uow() as uow:
        return uow.events.count_outbound(item_ids, services.clock())


def send_outbound(
    services: Services,
    item_ids: Collection[int],
    on_result: Callable[[RunResult], None] | None = None,
) -> OutboundReport:
    report = OutboundReport()
    item_of: dict[int, int] = {}
    for connection_items in _by_connection(services, item_ids).values():

        def claim(limit: int, kind: str, items: list[int] = connection_items) -> list[Claim]:
            if kind == "reads":
                return []  # `calsync sync` sends the outbound events after its reads
            with services.uow() as uow:
                rows = uow.events.claim(
                    services.clock(), lease_of(services), limit, item_ids=items, reads=False
                )
                uow.commit()
                item_of.update((row.id, row.item_id) for row in rows)
                return uow.events.claims_of(rows)

        def count(result: RunResult) -> None:
            if result.event_id not in item_of:  # an answer of a series its run joined
                with services.read() as uow:
                    item_of[result.event_id] = uow.events.get(result.event_id).item_id
            item = item_of[result.event_id]
            if result.state == EventState.processed:
                report.sent[item] += 1
            elif result.state == EventState.error:
                report.failed[item] += 1
            elif not result.lost:
                report.retrying[item] += 1
            if on_result is not None:
                on_result(result)

        dispatcher = Dispatcher(services, services.settings.sync.push_concurrency)
        try:
            dispatcher.run(claim, count)
        finally:
            dispatcher.close()
    return report


def _by_connection(services: Services, item_ids: Collection[int]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = defaultdict(list)
    with services.uow() as uow:
        for item_id in item_ids:
            binding = uow.items.by_id(item_id).item.binding
            if binding is not None:
                grouped[binding.connection].append(item_id)
    return grouped
