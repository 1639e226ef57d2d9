"""The fleet benchmark's figures: what it asks the database after a run, and how it prints them."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleet_watch import OUTBOUND, Watch, percentile
from sqlalchemy import Engine, func, select, text

from calsync.store.tables import CalendarItemRow, EventRow, ReservationRow, SynchronizationRow

if TYPE_CHECKING:
    from fleet import RunFigures
    from fleet_load import Booker

QUICK_REPOLL_S = 2.0
COUNTED = {
    "events": EventRow,
    "calendar items": CalendarItemRow,
    "synchronizations": SynchronizationRow,
    "reservations": ReservationRow,
}


def database_bytes(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )


def count_events(engine: Engine, action: str) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(EventRow).where(EventRow.action == action)
        return int(connection.execute(query).scalar_one())


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: int(connection.execute(select(func.count()).select_from(row)).scalar_one())
            for name, row in COUNTED.items()
        }


def rows_added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def fill_from_database(
    figures: RunFigures, engine: Engine, since: datetime, until: datetime
) -> None:
    """Synchronizations and outbound events of the load's window; errors and re-reads of
    the whole run."""
    sync, event = SynchronizationRow, EventRow
    with engine.connect() as connection:
        figures.syncs = connection.execute(
            select(func.count()).where(sync.started_at >= since, sync.started_at < until)
        ).scalar_one()
        figures.outbound = connection.execute(
            select(func.count()).where(
                event.action.in_(OUTBOUND),
                event.state == "processed",
                event.updated_at >= since,
                event.updated_at < until,
            )
        ).scalar_one()
        errors = connection.execute(
            select(event.action, func.count()).where(event.state == "error").group_by(event.action)
        )
        figures.errors = {str(action): int(n) for action, n in errors}
        starts = connection.execute(
            select(sync.item_id, sync.started_at).order_by(sync.item_id, sync.started_at)
        ).all()
    figures.quick_repolls = sum(
        1
        for (item, at), (previous_item, previous_at) in zip(starts[1:], starts, strict=False)
        if item == previous_item and (at - previous_at).total_seconds() < QUICK_REPOLL_S
    )


def fill_from_watch(figures: RunFigures, watch: Watch, booker: Booker) -> None:
    figures.changes = len(watch.changes)
    figures.lags = [t.arrived - t.made for t in watch.changes if t.arrived is not None]
    figures.lost = figures.changes - len(figures.lags)
    figures.bookings = booker.serial
    figures.booking_failures = booker.failures
    figures.booking_command_s = booker.command_s
    figures.booking_sent_lags = [b.sent - b.made for b in watch.bookings if b.sent is not None]
    figures.bookings_unsent = sum(b.sent is None for b in watch.bookings)
    figures.watch_errors = watch.errors[:5]


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {_s(percentile(values, 0.5))} s, p95 {_s(percentile(values, 0.95))} s, "
        f"max {_s(max(values))} s"
    )


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


def print_run(figures: RunFigures, args: argparse.Namespace) -> None:
    f, per = figures, max(figures.load_s, 1e-9)
    sent = "not within the run" if f.answers_sent_s is None else f"{f.answers_sent_s:.1f} s"
    target = 1.2 * args.poll_seconds
    p95 = percentile(f.lags, 0.95)
    verdict = "-" if p95 is None else ("ok" if p95 <= target else "missed")
    lines = [
        f"{f.workers} worker(s): `calsync init` {f.init_s:.1f} s; first synchronization of the "
        f"fleet ({args.rooms} rooms x {args.entries} entries) {_s(f.first_sync_s)} s; "
        f"{f.answers_queued} room answers queued, none waiting {sent} after the workers started",
        f"  load {f.load_s:.0f} s: {f.changes} changes on the server, lag {_spread(f.lags)} "
        f"(target p95 <= 1.2 x poll = {target:g} s: {verdict}); {f.lost} never arrived; "
        f"{len(f.change_failures)} refused by the server",
        f"  {f.bookings} bookings made in calsync (`calsync reservations create`, "
        f"{_spread(f.booking_command_s)} per command), {len(f.booking_failures)} refused; "
        f"reached the calendar: {_spread(f.booking_sent_lags)}; {f.bookings_unsent} never did",
        f"  during the load: {f.syncs} synchronizations ({f.syncs / per:.2f}/s), {f.outbound} "
        f"outbound events sent ({f.outbound / per:.2f}/s); reads of a room started < 2 s after "
        f"its previous one (whole run): {f.quick_repolls}",
        f"  events in error: {sum(f.errors.values())} {f.errors or ''}".rstrip(),
        "  "
        + (
            f"drained in {f.drain_s:.0f} s"
            if f.drained
            else f"drain timed out after {f.drain_s:.0f} s (see lost / unsent above)"
        ),
        _growth(f),
        f"  check: {f.check}",
        f"  workers' exit codes {f.worker_exits}; logs in {f.logs}",
    ]
    lines += [f"  booking refused: {failure}" for failure in f.booking_failures[:3]]
    lines += [f"  server change failed: {failure}" for failure in f.change_failures[:3]]
    lines += [f"  the watcher failed: {error}" for error in f.watch_errors]
    print("\n".join(lines) + "\n", flush=True)


def _growth(f: RunFigures) -> str:
    size = f.db_bytes
    grown = size.get("load end", 0) - size.get("load start", 0)
    day = 86_400 / max(f.load_s, 1e-9)
    rows = ", ".join(f"{name} +{n} ({n * day:,.0f}/day)" for name, n in f.rows_added.items())
    return (
        f"  database: {_mb(size.get('after init', 0))} after init, "
        f"{_mb(size.get('after first sync', 0))} after the first synchronization, "
        f"{_mb(size.get('end', 0))} at the end; over the load +{_mb(grown)}, "
        f"{_mb(grown * day)}/day at this rate, before any retention purge; rows added: {rows}"
    )


def print_table(results: list[Any], args: argparse.Namespace) -> None:
    header = (
        "workers", "first sync s", "syncs/s", "outbound/s", "lag p50 s", "lag p95 s",
        "lag max s", "in error", "lost", "drained", "check",
    )  # fmt: skip
    rows = [header]
    for f in results:
        per = max(f.load_s, 1e-9)
        rows.append(
            (
                str(f.workers),
                _s(f.first_sync_s),
                f"{f.syncs / per:.2f}",
                f"{f.outbound / per:.2f}",
                _s(percentile(f.lags, 0.5)),
                _s(percentile(f.lags, 0.95)),
                _s(max(f.lags) if f.lags else None),
                str(sum(f.errors.values())),
                f"{f.lost} of {f.changes}",
                f"{f.drain_s:.0f} s" if f.drained else "timed out",
                "ok" if f.check_ok else "FAILED",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(
        f"fleet: {args.rooms} rooms x {args.entries} entries, {args.minutes} minute(s) of "
        f"{args.minute_seconds:g} s, poll every {args.poll_seconds:g} s, PostgreSQL"
    )
    for index, row in enumerate(rows):
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))
