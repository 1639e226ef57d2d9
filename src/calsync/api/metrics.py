"""`GET /metrics`: Prometheus metrics, read from the store at each scrape (so they hold
whatever the number of workers, and whichever process serves them). A viewer's or an
admin's token is needed (Prometheus sends it with `authorization: {credentials: ...}`).

- `calsync_events{state}`: events the exchange log keeps (counted along an index: a
  scrape of a log of 200,000 events stays in milliseconds);
- `calsync_calendar_items{status}`: calendar items the log keeps;
- `calsync_queue_depth{scope}`: events `due` now, and all `waiting` (new or running);
- `calsync_synchronization_duration_seconds{item}`: its newest finished synchronization's
  duration;
- `calsync_synchronization_lag_seconds{item}`: seconds since its last successful
  synchronization ended;
- `calsync_provider_errors{connection, error}`: events whose last attempt failed on that
  provider error (`ProviderUnavailable`, ...), waiting for a retry or in error;
- `calsync_provider_throttled{connection}`: of those, the ones the service throttled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from calsync.api.auth import allow
from calsync.bootstrap import Services
from calsync.domain.access import Permission
from calsync.store import overview
from calsync.store.unit_of_work import UnitOfWork


class StoreCollector(Collector):
    """The metrics above, gathered in one read-only unit of work per scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        with self.services.read() as uow:
            yield from self._log(uow)
            yield from self._synchronizations(uow)
            yield from self._providers(uow)

    def _log(self, uow: UnitOfWork) -> Iterator[Metric]:
        events = GaugeMetricFamily(
            "calsync_events", "Events the exchange log keeps, by state", labels=["state"]
        )
        for state, count in sorted(overview.events_by_state(uow.session).items()):
            events.add_metric([state], count)
        items = GaugeMetricFamily(
            "calsync_calendar_items", "Calendar items the exchange log keeps", labels=["status"]
        )
        for status, count in sorted(overview.calendar_items_by_status(uow.session).items()):
            items.add_metric([status], count)
        due, waiting = overview.queue_depth(uow.session, self.services.clock())
        queue = GaugeMetricFamily(
            "calsync_queue_depth", "Events due now, and all new or running", labels=["scope"]
        )
        queue.add_metric(["due"], due)
        queue.add_metric(["waiting"], waiting)
        return iter([events, items, queue])

    def _synchronizations(self, uow: UnitOfWork) -> Iterator[Metric]:
        now = self.services.clock()
        names = uow.items.names()
        duration = GaugeMetricFamily(
            "calsync_synchronization_duration_seconds",
            "How long the item's newest finished synchronization took",
            labels=["item"],
        )
        lag = GaugeMetricFamily(
            "calsync_synchronization_lag_seconds",
            "Seconds since the item's last successful synchronization ended",
            labels=["item"],
        )
        for item_id, state in sorted(overview.item_states(uow.session, names).items()):
            last = state.last
            if last is not None and last.finished_at is not None:
                seconds = (last.finished_at - last.started_at).total_seconds()
                duration.add_metric([names[item_id]], seconds)
            if state.last_succeeded_at is not None:
                lag.add_metric([names[item_id]], (now - state.last_succeeded_at).total_seconds())
        return iter([duration, lag])

    def _providers(self, uow: UnitOfWork) -> Iterator[Metric]:
        connection_of = uow.items.connections()
        by_connection: dict[tuple[str, str], int] = defaultdict(int)
        for (item_id, error), count in overview.provider_errors(uow.session).items():
            by_connection[(connection_of.get(item_id, ""), error)] += count
        errors = GaugeMetricFamily(
            "calsync_provider_errors",
            "Events failing on a provider error now (waiting for a retry or in error)",
            labels=["connection", "error"],
        )
        throttled = GaugeMetricFamily(
            "calsync_provider_throttled",
            "Events the calendar service throttled, waiting for a retry or in error",
            labels=["connection"],
        )
        for connection in sorted(set(connection_of.values())):
            count = by_connection.get((connection, "ProviderThrottled"), 0)
            throttled.add_metric([connection], count)
        for (connection, error), count in sorted(by_connection.items()):
            errors.add_metric([connection, error], count)
        return iter([errors, throttled])


def metrics_router(services: Services) -> APIRouter:
    router = APIRouter(tags=["metrics"])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(services))

    @router.get(
        "/metrics",
        dependencies=[Depends(allow(Permission.read))],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics() -> Response:
        """Prometheus' text format."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
