"""The `calsync` command line: every admin action, `--json` for scripts.

`calsync events|items|deltas` live in `calsync.cli.log`, `calsync reservations` in
`calsync.cli.reservations`; what they share is in `calsync.cli.common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from calsync import config as config_module
from calsync.cli.approvals import approvals_app
from calsync.cli.common import (
    ConfigOption,
    ItemOption,
    JsonOption,
    console,
    errors,
    open_services,
    print_json,
    print_table,
    state,
)
from calsync.cli.connections import connections_app
from calsync.cli.exit_codes import HELP as EXIT_CODES_HELP
from calsync.cli.log import deltas_app, events_app, items_app
from calsync.cli.maintenance import purge
from calsync.cli.reservations import reservations_app
from calsync.cli.tokens import tokens_app

app = typer.Typer(
    help="calsync: workplace reservations <-> room calendars.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
)
config_app = typer.Typer(help="The configuration file.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(items_app, name="items")
app.add_typer(deltas_app, name="deltas")
app.add_typer(reservations_app, name="reservations")
app.add_typer(approvals_app, name="approvals")
app.add_typer(config_app, name="config")
app.add_typer(connections_app, name="connections")
app.add_typer(tokens_app, name="tokens")
app.command()(purge)


@app.callback()
def _main(config: ConfigOption = None) -> None:
    state["config"] = config


def main() -> None:
    app()


# --- setup -------------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create (or migrate) the database and store the configured workplace items; in a
    folder without a configuration, write a starter calsync.toml first."""
    from calsync.cli.starter import write_starter_if_missing

    with errors():
        written = write_starter_if_missing(state["config"])
    with errors(), open_services(create=True) as services:
        if written:
            console.print(f"no configuration found: wrote a starter {written.absolute()}")
        console.print(f"database ready: {services.settings.database.url}")
        console.print(f"workplace items: {len(services.settings.items)}")
    if written:
        console.print("[dim]next: add connections and items to it, then run `calsync init`[/dim]")


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration file and say what it declares."""
    with errors():
        settings = config_module.load(state["config"])
        settings.check_secrets()
        for name, connection in settings.connections.items():
            console.print(f"connection {name}: {connection.kind} {connection.url}")
        for item in settings.items:
            where = (
                f"{item.binding.connection}:{item.binding.calendar}"
                if item.binding
                else "no binding"
            )
            dry = " (dry run)" if item.binding and item.binding.dry_run else ""
            console.print(f"item {item.name}: {item.kind.value}, {item.time_zone}, {where}{dry}")
        for name, group in settings.groups.items():
            console.print(f"group {name}: {len(group.members)} members")
        for order, rule in enumerate(settings.approval_rules_in_order().rules, start=1):
            console.print(f"approval rule {order} {rule.name!r}: decided by {rule.performer}")
        if settings.smtp is not None:
            _say_smtp(settings)
        console.print("[green]configuration is valid[/green]")


def _say_smtp(settings: config_module.Settings) -> None:
    """The mail server, and each role that decides approvals with nobody to write to."""
    from rich.markup import escape

    smtp = settings.smtp
    assert smtp is not None
    how = "ssl" if smtp.ssl else "starttls" if smtp.starttls else "no TLS"
    when = (
        f"a digest every {smtp.digest_minutes} minutes" if smtp.digest else "one mail per request"
    )
    console.print(f"smtp: {smtp.host}:{smtp.port_number} ({how}), from {smtp.from_address}, {when}")
    for role in settings.roles_without_address():
        console.print(
            escape(
                f"warning: role {role} decides approvals but has no address in "
                "[approvals] role_addresses: its requests are mailed to nobody"
            ),
            style="yellow",
        )


# --- synchronization ------------------------------------------------------------------


@app.command()
def sync(
    item: ItemOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="List the whole calendar, ignoring the delta key.")
    ] = False,
    confirm_sweep: Annotated[
        bool,
        typer.Option(
            "--confirm-sweep", help="Cancel what a suspiciously small full listing left out."
        ),
    ] = False,
    push: Annotated[
        bool,
        typer.Option(
            "--push/--no-push",
            help="After the reads, send the items' pending outbound events (room answers,"
            " changes made in calsync).",
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Synchronize item calendars now (all bound items, or one), then send their pending
    outbound events.

    Exit codes: 0 all good; 3 a read or a send ended in error; 4 a synchronization needs
    confirmation (`--confirm-sweep`); 5 another live run holds a calendar.
    """
    from calsync.errors import CalendarBusy
    from calsync.worker.runner import request_sync, run_now

    with errors(), open_services() as services:
        names = (
            [item]
            if item
            else [i.name for i in services.settings.items if i.binding and i.binding.active]
        )
        results, busy = [], []
        with Progress(console=console, transient=True, disable=as_json) as progress:
            task = progress.add_task("synchronizing", total=len(names))
            for name in names:
                try:
                    result = run_now(services, request_sync(services, name, full, confirm_sweep))
                    results.append((name, result))
                except CalendarBusy as exc:
                    busy.append((name, str(exc)))
                progress.advance(task)
        sent = _send_outbound(services, [name for name, _ in results], as_json) if push else None
        _report_syncs(results, busy, sent, as_json)
        raise typer.Exit(_sync_exit_code(results, busy, sent))


def _send_outbound(services: Any, names: list[str], as_json: bool) -> dict[str, list[int]]:
    """Per item name: [sent, failed, retrying]; with a progress bar and one summary line."""
    from calsync.worker.outbound import pending_outbound, send_outbound

    with services.uow() as uow:
        ids = {uow.items.get(name).id: name for name in names}
    total = pending_outbound(services, ids) if ids else 0
    if not total:
        return {name: [0, 0, 0] for name in names}
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("sending", total=total)
        report = send_outbound(services, ids, lambda _: progress.advance(task))
    if not as_json:
        console.print(
            f"sent {report.total(report.sent)} outbound events,"
            f" {report.total(report.failed)} failed,"
            f" {report.total(report.retrying)} to retry later"
        )
    return {name: [report.sent[i], report.failed[i], report.retrying[i]] for i, name in ids.items()}


def _sync_exit_code(results: list[Any], busy: list[Any], sent: dict[str, list[int]] | None) -> int:
    from calsync.cli.exit_codes import ExitCode
    from calsync.domain.synchronizations import SyncOutcome

    if any(r.error for _, r in results) or any(f for _, f, _ in (sent or {}).values()):
        return ExitCode.events_failed
    if any(
        r.synchronization and r.synchronization.outcome == SyncOutcome.needs_confirmation
        for _, r in results
    ):
        return ExitCode.needs_confirmation
    if busy:
        return ExitCode.calendar_busy
    return ExitCode.ok


def _report_syncs(
    results: list[Any], busy: list[Any], sent: dict[str, list[int]] | None, as_json: bool
) -> None:
    counts = sent or {}
    if as_json:
        print_json(
            [
                {
                    "item": name,
                    "event_id": r.event_id,
                    "state": r.state.value,
                    "error": r.error or None,
                    "synchronization_id": r.synchronization.synchronization_id
                    if r.synchronization
                    else None,
                    "mode": r.synchronization.mode.value if r.synchronization else None,
                    "outcome": r.synchronization.outcome.value if r.synchronization else "failed",
                    "calendar_items": r.synchronization.calendar_items if r.synchronization else 0,
                    "outbound_sent": counts.get(name, [0, 0, 0])[0],
                    "outbound_failed": counts.get(name, [0, 0, 0])[1],
                }
                for name, r in results
            ]
            + [
                {"item": name, "state": "busy", "outcome": "busy", "error": message}
                for name, message in busy
            ]
        )
        return
    rows = []
    for name, r in results:
        s = r.synchronization
        rows.append(
            [
                name,
                s.mode.value if s else "",
                s.outcome.value if s else "failed",
                s.calendar_items if s else 0,
                f"{counts[name][0]}/{counts[name][1]}" if name in counts else "",
                r.error or (s.detail if s else ""),
            ]
        )
    rows += [[name, "", "busy", 0, "", "see below"] for name, _ in busy]
    print_table(
        "synchronizations",
        ["item", "mode", "outcome", "calendar items", "sent/failed", "detail"],
        rows,
    )
    for name, r in results:
        if r.synchronization and r.synchronization.outcome.value == "needs_confirmation":
            console.print(
                f"[yellow]{name}: needs confirmation[/yellow] - {r.synchronization.detail}",
                soft_wrap=True,
            )
    for name, message in busy:
        console.print(f"[yellow]{name}: busy[/yellow] - {message}", soft_wrap=True)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
    interval: Annotated[
        float, typer.Option(help="Seconds to sleep when the queue is empty.")
    ] = 1.0,
    log_format: Annotated[
        str, typer.Option("--log-format", help="One line per event run: text or json.")
    ] = "text",
    liveness_file: Annotated[
        Path | None,
        typer.Option("--liveness-file", help="Touched on every turn of the worker's loop."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Probe: exit 0 if the liveness file is fresh, 6 if not (no database)."
        ),
    ] = False,
    max_age: Annotated[
        float, typer.Option("--max-age", help="With --check: seconds the file may be old.")
    ] = 60.0,
) -> None:
    """Poll bound calendars when due and run pending events (reads, writes), with retries.

    A service for systemd or Kubernetes: SIGTERM or SIGINT lets the events in hand finish
    (for `sync.stop_grace_seconds`), gives back the claims of those still running and
    exits 0. Each event run is one log line on stderr. Exit codes: 0 stopped cleanly (or,
    with --once, every event processed); 3 with --once, events ended in error or failed
    and wait for a retry; 6 with
    --check, no live worker.
    """
    from calsync.cli.exit_codes import ExitCode

    if check:
        raise typer.Exit(_check_liveness(liveness_file, max_age))
    if log_format not in ("text", "json"):
        raise typer.BadParameter("text or json", param_hint="--log-format")
    from calsync.worker.logs import worker_logs

    with worker_logs(log_format), errors(), open_services() as services:
        services.settings.check_secrets()  # a missing secret stops the worker at start
        if not once:
            _serve(services, interval, liveness_file)
            return
        from calsync.sync.room_answers import recheck_awaiting
        from calsync.worker.scheduler import enqueue_due_polls, run_due

        enqueue_due_polls(services)
        recheck_awaiting(services)
        results = run_due(services)
        failed = sum(1 for result in results if result.state.value == "error")
        # A failed attempt to be retried later did not do its work either: a cron job
        # must see that no calendar was read when the server is down.
        retrying = sum(1 for result in results if result.error and result.state.value == "new")
        console.print(
            f"{len(results)} events run, {failed} ended in error, {retrying} failed and "
            "will be retried"
        )
        if failed or retrying:
            raise typer.Exit(ExitCode.events_failed)


def _check_liveness(liveness_file: Path | None, max_age: float) -> int:
    from calsync.cli.exit_codes import ExitCode
    from calsync.worker.scheduler import liveness_age

    if liveness_file is None:
        raise typer.BadParameter("--check needs --liveness-file", param_hint="--check")
    age = liveness_age(liveness_file)
    if age is None or age > max_age:
        seen = "never touched" if age is None else f"last touched {age:.0f} s ago"
        console.print(f"[red]no live worker[/red]: {liveness_file} {seen} (max {max_age:.0f} s)")
        return ExitCode.not_alive
    console.print(f"worker alive: {liveness_file} touched {age:.1f} s ago")
    return ExitCode.ok


def _serve(services: Any, interval: float, liveness_file: Path | None) -> None:
    import logging
    import os
    import signal
    import threading

    from calsync.worker.scheduler import run_forever

    stop = threading.Event()

    def stopping(signum: int, _frame: Any) -> None:
        logging.getLogger("calsync.worker").info(
            "%s: finishing the events in hand", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    released = run_forever(services, interval, stop, liveness_file)
    if released:
        logging.getLogger("calsync.worker").warning(
            "gave back %d claims still running after the grace period: %s",
            len(released),
            ", ".join(str(claim.event_id) for claim in released),
        )
        services.close()
        # Their threads are stuck in a call that cannot be interrupted; their next commit
        # is refused anyway. Leave without waiting for them.
        os._exit(0)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8470,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the routes only; run no worker.")
    ] = False,
    log_format: Annotated[
        str, typer.Option("--log-format", help="calsync's log lines: text or json.")
    ] = "text",
    http_processes: Annotated[
        int,
        typer.Option(
            "--http-processes",
            min=1,
            max=64,
            help="Processes answering HTTP on the one port (one per CPU).",
        ),
    ] = 1,
) -> None:
    """Serve calsync over HTTP: the API under /api/v1 (bearer tokens from `calsync tokens
    create`; OpenAPI at /docs), the admin pages at /admin (log in with such a token),
    /healthz, /metrics, and `POST /webhooks/google` for Google's push notifications (set
    `[push] address` to its public https URL). Unless --no-worker, the worker runs beside
    it (`calsync worker`), opening and renewing the push channels, polling and running
    what notifications queue. SIGTERM or SIGINT stops both.
    """
    if log_format not in ("text", "json"):
        raise typer.BadParameter("text or json", param_hint="--log-format")
    from calsync.worker.logs import worker_logs

    with worker_logs(log_format), errors(), open_services() as services:
        services.settings.check_secrets()  # a missing secret stops the service at start
        if http_processes == 1:
            _serve_http(services, host, port, worker=not no_worker)
        else:
            _serve_processes(
                services, host, port, http_processes, worker=not no_worker, log_format=log_format
            )


def _serve_processes(
    services: Any, host: str, port: int, processes: int, worker: bool, log_format: str = "text"
) -> None:
    """uvicorn's supervisor: `processes` processes answering on one listening socket, each
    building the app from the same configuration (and restarted if it dies), the worker
    in a thread of this one. SIGTERM or SIGINT stops the processes, then the worker
    within its grace. A process that cannot start (a configuration edited since, say)
    stops them all, and this command exits 1."""
    import logging
    import os
    import secrets
    import tempfile
    import threading

    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess

    from calsync.api.app import LOG_FORMAT_ENV, SERVE_PID_ENV, SETTINGS_ENV
    from calsync.web.session import SHARED_KEY_ENV
    from calsync.worker.scheduler import run_forever

    os.environ[SHARED_KEY_ENV] = secrets.token_urlsafe(32)  # drawn here, never inherited
    os.environ[LOG_FORMAT_ENV] = log_format
    os.environ[SERVE_PID_ENV] = str(os.getpid())
    stop = threading.Event()
    config = uvicorn.Config(
        "calsync.api.app:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=processes,
        log_level="warning",
    )
    listening = _bind(config, host, port)
    # Each process (one started again too) serves the configuration read here, from a
    # file only this user may read, removed when serve stops.
    with tempfile.NamedTemporaryFile(prefix="calsync-serve-", suffix=".json", delete=False) as kept:
        kept.write(services.settings.model_dump_json().encode("utf-8"))
    os.environ[SETTINGS_ENV] = kept.name
    supervisor = Multiprocess(config, sockets=[listening])  # its handlers of SIGTERM, SIGINT

    def stop_with_the_supervisor() -> None:
        # The worker's grace starts at the signal, not once the HTTP processes drained.
        supervisor.should_exit.wait()
        stop.set()

    def work_once_listening() -> None:
        # The worker opens push channels: their notices need a process to take them, and
        # the socket bound here listens only once a process serves it.
        if _listening(host, port, stop):
            run_forever(services, 1.0, stop)

    thread = threading.Thread(target=work_once_listening, name="worker")
    if worker:
        thread.start()
        threading.Thread(target=stop_with_the_supervisor, name="stopping", daemon=True).start()
    logging.getLogger("calsync.api").info(
        "serving on http://%s:%d in %d processes%s",
        *(host, port, processes, "" if worker else " (no worker)"),
    )
    try:
        supervisor.run()
        if any(child.exitcode == STARTUP_FAILURE for child in supervisor.processes):
            raise SystemExit(STARTUP_FAILURE)  # uvicorn stopped them all for it
    except SystemExit:  # a process could not start
        console.print(f"[red]error:[/red] could not serve on {host}:{port}")
        raise typer.Exit(1) from None
    finally:
        stop.set()
        if worker:
            thread.join()
        listening.close()
        Path(kept.name).unlink(missing_ok=True)


def _listening(host: str, port: int, stop: Any) -> bool:
    """Wait until `host`:`port` takes connections (False if `stop` is set first)."""
    import socket

    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    while not stop.is_set():
        try:
            socket.create_connection((target, port), timeout=1).close()
            return True
        except OSError:
            stop.wait(0.2)
    return False


def _bind(config: Any, host: str, port: int) -> Any:
    """The port's socket, bound before any worker starts (it listens once uvicorn serves
    it): a worker must not open push channels on a port another program holds, which
    would take connections all the same. A port that cannot be had exits 1."""
    try:
        return config.bind_socket()
    except SystemExit:  # uvicorn's answer to a port taken, say
        console.print(f"[red]error:[/red] could not serve on {host}:{port}")
        raise typer.Exit(1) from None


def _serve_http(services: Any, host: str, port: int, worker: bool) -> None:
    """uvicorn in a thread of its own and the worker in another, both stopped by SIGTERM
    or SIGINT here (uvicorn's own handlers would re-raise the signal once it stopped,
    killing the worker's grace period with the process)."""
    import logging
    import signal
    import threading

    import uvicorn

    from calsync.api.app import create_app
    from calsync.worker.scheduler import run_forever

    stop = threading.Event()
    log = logging.getLogger("calsync.api")

    def stopping(signum: int, _frame: Any) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host=host, port=port, log_level="warning")
    )
    listening = _bind(server.config, host, port)
    threads = [threading.Thread(target=server.run, args=([listening],), name="http")]
    if worker:
        threads.append(
            threading.Thread(target=run_forever, args=(services, 1.0, stop), name="worker")
        )
    for thread in threads:
        thread.start()
    log.info("serving on http://%s:%d%s", host, port, "" if worker else " (no worker)")
    failed = False
    while not stop.wait(0.5):
        if not threads[0].is_alive():  # uvicorn could not start (the port is taken, say)
            failed = True
            stop.set()
    server.should_exit = True
    for thread in threads:
        thread.join()
    if failed:
        console.print(f"[red]error:[/red] could not serve on {host}:{port}")
        raise typer.Exit(1)


@app.command()
def export(item: Annotated[str, typer.Option("--item", help="Workplace item name.")]) -> None:
    """Send the item's existing future reservations to its calendar (queued as create events)."""
    from calsync.sync import reservations as reservation_service

    with errors(), open_services() as services:
        count = reservation_service.export_item(services, item)
        console.print(
            f"{count} create events queued for {item}; run `calsync worker --once` to send them"
        )


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the demo's files in this folder.")
    ] = None,
) -> None:
    """Run a Radicale server with three rooms and a desk, sync a realistic week both ways."""
    from calsync.demo import run_demo

    with errors():
        run_demo(Console(width=max(console.width, 150)), keep)
