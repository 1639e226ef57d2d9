"""Benchmark: calsync's initial and incremental synchronization of one big room calendar.

    .venv/bin/python bench/initial_and_incremental.py [--entries 10000]
        [--backends sqlite,postgresql] [--postgres-url URL] [--json] [--profile]

1. Builds a Radicale storage folder holding one room calendar of N entries (see
   `calendar_data`), written straight into Radicale's filesystem layout and cached under
   bench/.work/ (keyed by N and month), together with the cache Radicale builds the first
   time it lists the calendar.
2. For each backend, on a fresh copy of that storage: starts Radicale, warms it up (one full
   sync-collection listing and calendar-multiget, timed apart), then runs in a FRESH
   SUBPROCESS each: the initial synchronization, 10 changes on the server then an
   incremental synchronization, 100 changes then another one. Each run goes through the
   product's path (`request_sync` + `run_event`, as `calsync sync`).
3. Where vdirsyncer is found (or installable), syncs the same calendar into a folder, then
   again after 10 changes, for comparison.
4. Prints the figures as a table, or as JSON with --json.

Targets: initial sync of 10,000 entries <= 10 s whole process, peak RSS < 300 MB,
incremental sync of 10 changes < 1 s with a request count that does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from subprocess import PIPE
from typing import Any

import calendar_data as cal
import cpu_timeline
import sync_child
import vdirsyncer_run
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from calsync.providers.caldav import CalDAVProvider
from calsync.radicale_server import RadicaleServer

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
CHILD = BENCH / "sync_child.py"
LAYOUT_VERSION = 1  # bump when calendar_data changes what it writes
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
EDIT_SHARE = 0.7  # of the changes, the rest are deletions
ROUNDS = (10, 100)
# vdirsyncer asks for every object in one calendar-multiget; Radicale refuses an answer of
# more than 10,000 VEVENTs by default (anti-DoS). calsync asks in batches of 1,000 and does
# not need this; it is raised so that the comparison can run at all.
RADICALE_REPORTING = {"max_expand_occurrence": "1000000"}


@dataclass
class Phase:
    """One measured synchronization in a fresh process."""

    process_s: float  # spawn to exit: interpreter, imports, start, sync (schema made before)
    sync_s: float  # request_sync + run_event only
    server_s: float  # of which waiting for the server's answers (summed over requests)
    peak_rss_mb: float
    requests: int
    bytes_received: int
    calendar_items: int
    mode: str
    error: str = ""
    reservations: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)


@dataclass
class BackendResult:
    backend: str
    warm_up_s: float
    initial: Phase  # the median of the initial runs, by process time
    incremental: dict[int, Phase]
    initial_runs: list[float] = field(default_factory=list)  # process seconds of each run
    init_s: float = 0.0  # creating the schema and item beforehand, as `calsync init` does
    cpu_busy: list[tuple[float, float]] = field(default_factory=list)  # (s, busy CPUs)


@dataclass
class VdirsyncerResult:
    initial_s: float
    initial_rss_mb: float
    files: int
    resync_s: float
    resync_rss_mb: float
    error: str = ""


# --- the calendar ---------------------------------------------------------------------------


def storage_folder(entries: int) -> Path:
    """The cached storage for `entries`, built (and warmed once) if missing."""
    anchor = cal.anchor_for(datetime.now(UTC).date())
    folder = WORK / f"storage-n{entries}-{anchor:%Y%m}-v{LAYOUT_VERSION}"
    if not folder.exists():
        log(f"building a calendar of {entries} entries in {folder}")
        began = time.perf_counter()
        scratch = WORK / f"building-{uuid.uuid4().hex[:8]}"
        cal.write_storage(scratch, cal.entries(entries, anchor))
        scratch.rename(folder)
        log(f"  written in {time.perf_counter() - began:.1f} s")
    marker = folder / ".warm"
    if not marker.exists():
        with RadicaleServer(folder, start_timeout=60, reporting=RADICALE_REPORTING) as server:
            seconds, _ = warm_up(server.url)
        log(f"  first listing by Radicale (builds its item cache, kept): {seconds:.1f} s")
        marker.write_text(f"{seconds:.3f}\n")
    return folder


@contextmanager
def serving_copy(storage: Path, label: str) -> Iterator[tuple[RadicaleServer, float]]:
    """Radicale on a private copy of `storage`, warmed up; yields it and the warm-up time."""
    copy = WORK / f"run-{os.getpid()}-{label}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(storage, copy, symlinks=True)
    try:
        with RadicaleServer(copy, start_timeout=60, reporting=RADICALE_REPORTING) as server:
            seconds, listed = warm_up(server.url)
            log(f"[{label}] Radicale warm-up: {seconds:.2f} s for {listed} objects")
            yield server, seconds
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def warm_up(url: str) -> tuple[float, int]:
    """One full sync-collection listing plus calendar-multiget of everything."""
    began = time.perf_counter()
    with CalDAVProvider(url, timeout=600) as provider:
        listed = len(provider.fetch_changes(cal.CALENDAR, None).changes)
    return time.perf_counter() - began, listed


def change_server(url: str, chosen: list[cal.Entry]) -> tuple[int, int]:
    """Edit (PUT) the first EDIT_SHARE of `chosen` and delete the rest; return both counts."""
    edits = round(len(chosen) * EDIT_SHARE)
    with CalDAVProvider(url) as provider:
        for entry in chosen[:edits]:
            provider.update(cal.CALENDAR, entry.file_name, cal.ics(cal.edited(entry)), None)
        for entry in chosen[edits:]:
            provider.delete(cal.CALENDAR, entry.file_name, None)
    return edits, len(chosen) - edits


def change_plan(entries: list[cal.Entry]) -> dict[int, list[cal.Entry]]:
    """For each round, distinct entries to change (singles and series mixed, seeded)."""
    rng = random.Random(7)
    pool = rng.sample(entries, min(len(entries), sum(ROUNDS)))
    plan, used = {}, 0
    for size in ROUNDS:
        plan[size] = pool[used : used + size]
        used += size
    return plan


# --- calsync in a fresh process -------------------------------------------------------------


def run_child(database_url: str, dav_url: str, profile: Path | None = None) -> Phase:
    report, elapsed = _child(database_url, dav_url, ["--profile", str(profile)] if profile else [])
    return Phase(
        process_s=elapsed,
        sync_s=report["sync_s"],
        server_s=report["server_s"],
        peak_rss_mb=report["peak_rss_mb"],
        requests=report["requests"],
        bytes_received=report["bytes_received"],
        calendar_items=report.get("calendar_items", 0),
        mode=report.get("mode", ""),
        error=report.get("error", ""),
        **sync_child.counts(database_url),
    )


def prepare_database(database_url: str, dav_url: str) -> float:
    """`calsync init`'s work (schema and item) in a process of its own; its seconds."""
    report, _ = _child(database_url, dav_url, ["--init"])
    return float(report["init_s"])


def _child(database_url: str, dav_url: str, options: list[str]) -> tuple[dict[str, Any], float]:
    argv = [sys.executable, str(CHILD), "--database-url", database_url, "--dav-url", dav_url]
    env = {k: v for k, v in os.environ.items() if k != "CALSYNC_DATABASE_URL"}
    began = time.perf_counter()
    with subprocess.Popen(
        argv + options, stdout=PIPE, stderr=PIPE, text=True, env=env, cwd=BENCH.parent
    ) as child:
        # Timed to the process's exit, as a shell waits: the iCalendar readers' fork server
        # holds the output pipes a little longer while it shuts down on its own.
        returncode = child.wait()
        elapsed = time.perf_counter() - began
        stdout, stderr = child.communicate()
    if returncode != 0:
        raise RuntimeError(f"sync subprocess failed ({returncode}):\n{stderr[-4000:]}")
    return json.loads(stdout.strip().splitlines()[-1]), elapsed


@contextmanager
def database(backend: str, postgres_url: str) -> Iterator[str]:
    """A throw-away database URL: a temporary SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="calsync-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'calsync.db'}"
        return
    name = f"calsync_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def postgres_reachable(postgres_url: str) -> str:
    """An empty string if the server answers, else why not."""
    try:
        engine = create_engine(postgres_url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no PostgreSQL here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return ""


def bench_backend(
    backend: str, storage: Path, plan: dict[int, list[cal.Entry]], args: argparse.Namespace
) -> BackendResult:
    with serving_copy(storage, backend) as (server, warm):
        runs = [initial_run(backend, server, args, attempt) for attempt in range(args.repeat - 1)]
        with database(backend, args.postgres_url) as url:
            init_s = prepare_database(url, server.url)
            profile = WORK / "initial-sqlite.prof" if args.profile and backend == "sqlite" else None
            timeline = cpu_timeline.CpuTimeline() if args.cpu_timeline else None
            if timeline and cpu_timeline.CpuTimeline.available():
                with timeline:
                    runs.append(run_child(url, server.url, profile))
            else:
                runs.append(run_child(url, server.url, profile))
            log(f"[{backend}] initial ({len(runs)}): {describe(runs[-1])}")
            incremental = {}
            for size, chosen in plan.items():
                edits, deletes = change_server(server.url, chosen)
                incremental[size] = phase = run_child(url, server.url)
                log(f"[{backend}] {edits} edits + {deletes} deletions, then {describe(phase)}")
    median = sorted(runs, key=lambda run: run.process_s)[len(runs) // 2]
    return BackendResult(
        backend,
        warm,
        median,
        incremental,
        [run.process_s for run in runs],
        init_s,
        timeline.samples if timeline else [],
    )


def initial_run(
    backend: str, server: RadicaleServer, args: argparse.Namespace, attempt: int
) -> Phase:
    """One more initial synchronization into a database of its own (the server is unchanged:
    nothing is sent back to it without a worker)."""
    with database(backend, args.postgres_url) as url:
        prepare_database(url, server.url)
        run = run_child(url, server.url)
    log(f"[{backend}] initial ({attempt + 1}): {describe(run)}")
    return run


def describe(phase: Phase) -> str:
    failed = f"FAILED ({phase.error}), " if phase.error else ""
    return failed + (
        f"{phase.mode}, process {phase.process_s:.2f} s (sync {phase.sync_s:.2f} s, "
        f"waiting for the server {phase.server_s:.2f} s), "
        f"RSS {phase.peak_rss_mb:.0f} MB, {phase.requests} requests, "
        f"{phase.bytes_received / 1e6:.2f} MB in, {phase.calendar_items} calendar items, "
        f"reservations {phase.reservations}, events {phase.events}"
    )


# --- vdirsyncer -----------------------------------------------------------------------------


def bench_vdirsyncer(
    storage: Path, plan: dict[int, list[cal.Entry]], install: bool
) -> VdirsyncerResult | None:
    binary = vdirsyncer_run.find_or_install(WORK, install)
    if binary is None:
        log("vdirsyncer: not installed")
        return None
    folder = WORK / f"vdirsyncer-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        with serving_copy(storage, "vdirsyncer") as (server, _):
            pair = vdirsyncer_run.Vdirsyncer(binary, folder, server.url + cal.CALENDAR)
            pair.discover()
            first = pair.sync()
            log(f"[vdirsyncer] initial: {first.seconds:.2f} s, RSS {first.peak_rss_mb:.0f} MB")
            change_server(server.url, plan[ROUNDS[0]])
            again = pair.sync()
            log(f"[vdirsyncer] after {ROUNDS[0]} changes: {again.seconds:.2f} s")
    except vdirsyncer_run.Failed as exc:
        log(f"[vdirsyncer] FAILED: {exc}")
        return VdirsyncerResult(0.0, 0.0, 0, 0.0, 0.0, error=str(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return VdirsyncerResult(
        first.seconds, first.peak_rss_mb, first.files, again.seconds, again.peak_rss_mb
    )


# --- reporting ------------------------------------------------------------------------------


def table(results: list[BackendResult], vdir: VdirsyncerResult | None) -> str:
    head = ["backend", "initial s", "(runs)", "(sync s)", "(server s)", "peak RSS MB"]
    head += ["requests", "MB recv"]
    for size in ROUNDS:
        head += [f"incr({size}) s (proc)", f"incr({size}) server s"]
        head += [f"incr({size}) req", f"incr({size}) KB"]
    rows = [head] + [_row(result) for result in results]
    if vdir:
        rows.append(_vdirsyncer_row(vdir, len(head)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _seconds(phase: Phase) -> str:
    """The process time; `FAIL` marks a synchronization that ended in an error."""
    return f"{phase.process_s:.2f}" + (" FAIL" if phase.error else "")


def _row(result: BackendResult) -> list[str]:
    first = result.initial
    runs = result.initial_runs
    row = [
        result.backend,
        _seconds(first),
        f"{min(runs):.2f}-{max(runs):.2f}" if len(runs) > 1 else "",
        f"{first.sync_s:.2f}",
        f"{first.server_s:.2f}",
        f"{first.peak_rss_mb:.0f}",
        str(first.requests),
        f"{first.bytes_received / 1e6:.1f}",
    ]
    for size in ROUNDS:
        phase = result.incremental[size]
        row += [f"{phase.sync_s:.2f} ({_seconds(phase)})", f"{phase.server_s:.2f}"]
        row += [str(phase.requests), f"{phase.bytes_received / 1e3:.1f}"]
    return row


def _vdirsyncer_row(vdir: VdirsyncerResult, width: int) -> list[str]:
    if vdir.error:
        return ["vdirsyncer", "FAIL"] + [""] * (width - 2)
    row = ["vdirsyncer", f"{vdir.initial_s:.2f}", "", "", "", f"{vdir.initial_rss_mb:.0f}", "", ""]
    row += [f"{vdir.resync_s:.2f}", "", "", ""]
    return row + [""] * (width - len(row))


def summary(results: list[BackendResult], vdir: VdirsyncerResult | None, n: int) -> str:
    lines = []
    for result in results:
        first = result.initial
        lines.append(
            f"{result.backend}: Radicale warm-up {result.warm_up_s:.2f} s; schema and item "
            f"created beforehand (calsync init) in {result.init_s:.2f} s; initial created "
            f"{first.calendar_items} calendar items, reservations {first.reservations}, "
            f"events {first.events}"
        )
        lines.append(f"  targets: {', '.join(_targets(result, n))}")
        small = result.incremental[ROUNDS[0]]
        lines.append(
            f"  incremental({ROUNDS[0]}): sync {small.sync_s:.2f} s, of which the server's "
            f"answers {small.server_s:.2f} s and calsync {small.sync_s - small.server_s:.2f} s"
        )
        phases = {"initial": first} | {
            f"incremental({k})": v for k, v in result.incremental.items()
        }
        lines += [f"  {name} FAILED: {p.error}" for name, p in phases.items() if p.error]
    if vdir and vdir.error:
        lines.append(f"vdirsyncer FAILED: {vdir.error}")
    elif vdir and results:
        base = next((r for r in results if r.backend == "sqlite"), results[0])
        lines.append(
            f"calsync ({base.backend}) / vdirsyncer: initial time "
            f"{base.initial.process_s / vdir.initial_s:.2f}x, peak RSS "
            f"{base.initial.peak_rss_mb / vdir.initial_rss_mb:.2f}x, re-sync after "
            f"{ROUNDS[0]} changes {base.incremental[ROUNDS[0]].process_s / vdir.resync_s:.2f}x "
            f"(vdirsyncer wrote {vdir.files} files)"
        )
    return "\n".join(lines)


def _targets(result: BackendResult, n: int) -> list[str]:
    first, small = result.initial, result.incremental[ROUNDS[0]]
    checks = [
        (f"initial <= 10 s ({n} entries)", result.initial.process_s <= 10 and not first.error),
        ("peak RSS < 300 MB", result.initial.peak_rss_mb < 300),
        (f"incremental({ROUNDS[0]}) sync < 1 s", small.sync_s < 1 and not small.error),
        (f"incremental({ROUNDS[0]}) requests <= 3", small.requests <= 3),
    ]
    return [f"{name} {'ok' if ok else 'MISSED'}" for name, ok in checks]


def profile_text(path: Path, top: int = 15) -> str:
    out = StringIO()
    pstats.Stats(str(path), stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000, help="calendar size")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="admin connection URL")
    parser.add_argument(
        "--repeat", type=int, default=3, help="initial synchronizations per backend (median)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="cProfile the SQLite initial sync")
    parser.add_argument(
        "--cpu-timeline",
        action="store_true",
        help="print the busy CPUs (from /proc/stat) every 0.5 s of each last initial run",
    )
    parser.add_argument("--no-vdirsyncer", action="store_true", help="skip the comparison")
    parser.add_argument(
        "--no-install", action="store_true", help="do not pip install vdirsyncer if missing"
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    return args


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    storage = storage_folder(args.entries)
    entries = cal.entries(args.entries, cal.anchor_for(datetime.now(UTC).date()))
    plan = change_plan(entries)
    results = []
    for backend in args.backends:
        why = postgres_reachable(args.postgres_url) if backend == "postgresql" else ""
        if why:
            log(f"postgresql: skipped, {args.postgres_url} is not reachable ({why})")
            continue
        results.append(bench_backend(backend, storage, plan, args))
    vdir = None if args.no_vdirsyncer else bench_vdirsyncer(storage, plan, not args.no_install)
    if args.json:
        print(json.dumps(_as_json(args, results, vdir), indent=2))
    else:
        print(f"calsync benchmark: {args.entries} entries, {machine()}")
        print(table(results, vdir))
        print(summary(results, vdir, args.entries))
        for result in results:
            if result.cpu_busy:
                print(
                    f"busy CPUs during the last {result.backend} initial run (of "
                    f"{os.cpu_count()}; mean {cpu_timeline.mean(result.cpu_busy):.2f}), "
                    f"second:busy every 0.5 s: {cpu_timeline.text(result.cpu_busy)}"
                )
    profile = WORK / "initial-sqlite.prof"
    if args.profile and profile.exists():
        print(profile_text(profile), file=sys.stderr if args.json else sys.stdout)


def _as_json(
    args: argparse.Namespace, results: list[BackendResult], vdir: VdirsyncerResult | None
) -> dict[str, Any]:
    return {
        "entries": args.entries,
        "machine": machine(),
        "backends": [asdict(result) for result in results],
        "vdirsyncer": asdict(vdir) if vdir else None,
    }


if __name__ == "__main__":
    main()
