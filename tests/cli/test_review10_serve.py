"""Review tests of `calsync serve --http-processes N` as real processes: a process that
cannot start again after it died, the log format of the HTTP processes, signals while a
request is in flight, a child killed, the session key."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from calsync.cli import app
from tests.api.conftest import free_port, wait_for
from tests.cli.test_serve import _children, answers, configure, serve
from tests.providers.google.conftest import BERLIN, ROOM
from tests.providers.google_emulator import GoogleCalendarEmulator

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def google():
    with GoogleCalendarEmulator() as emulator:
        emulator.add_calendar(ROOM, time_zone=BERLIN, summary="Room 1")
        yield emulator


def _stop(process) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    return stderr


def test_review10_a_child_that_cannot_start_again_stops_serve_with_a_failure(tmp_path, google):
    """calsync's code changed under the running service (an upgrade in place) and now
    fails to build the app, then a child died: uvicorn's supervisor could not start its
    replacement. It was spawned again in a loop (a traceback and a new Python each
    second, the port served by the others); now serve stops and exits 1."""
    import shutil
    import subprocess
    import sys

    import calsync

    code = tmp_path / "code"
    shutil.copytree(Path(calsync.__file__).parent, code / "calsync")
    port = free_port()
    config = configure(tmp_path, google, port)
    command = [sys.executable, "-m", "calsync", "--config", str(config), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--no-worker", "--http-processes", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        children = wait_for(lambda: len(_children(process.pid)) == 2 and _children(process.pid))
        bootstrap = code / "calsync" / "bootstrap.py"
        bootstrap.write_text(
            bootstrap.read_text().replace(
                "    engine = make_engine(settings.database.url)\n",
                "    raise RuntimeError('upgraded badly')\n",
            )
        )
        os.kill(children[0], signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        stderr = _stop(process)
    assert process.returncode == 1, stderr
    assert "this HTTP process cannot start: upgraded badly" in stderr
    assert _children(process.pid) == []


def test_review10_a_child_killed_is_replaced_and_sessions_still_hold(tmp_path, google):
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--no-worker", "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        before = wait_for(lambda: len(_children(process.pid)) == 2 and _children(process.pid))
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "viewer"]).stdout.strip()  # fmt: skip
        with httpx.Client(base_url=base) as browser:
            form = browser.get("/admin/login").text
            csrf = form.split('name="csrf" value="')[1].split('"')[0]
            browser.post("/admin/login", data={"token": token, "csrf": csrf})
            cookies = dict(browser.cookies)
        os.kill(before[0], signal.SIGKILL)
        wait_for(
            lambda: len(after := _children(process.pid)) == 2 and before[0] not in after,
            timeout=60,
        )
        time.sleep(2)  # the replacement has started answering
        for _ in range(20):  # either process, the replacement among them
            with httpx.Client(base_url=base, cookies=cookies) as fresh:
                assert fresh.get("/admin/events").status_code == 200
    finally:
        stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert _children(process.pid) == []


def test_review10_the_http_processes_log_in_the_format_asked(tmp_path, google):
    """--log-format json: what the HTTP processes log (a refused Google notification) was
    a bare text line on stderr (logging's last resort), in a stream of JSON lines."""
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--no-worker", "--http-processes", "2", "--log-format", "json")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        refused = httpx.post(
            f"{base}/webhooks/google",
            headers={
                "X-Goog-Channel-ID": "nochannel",
                "X-Goog-Channel-Token": "y",
                "X-Goog-Resource-State": "exists",
            },
        )
        assert refused.status_code == 404
        time.sleep(0.5)
    finally:
        stderr = _stop(process)
    lines = [line for line in stderr.splitlines() if "notification refused" in line]
    assert lines, stderr
    for line in lines:
        assert json.loads(line)["level"] == "warning", stderr


def test_review10_sigterm_while_a_request_is_in_flight_answers_it_and_exits_0(tmp_path, google):
    """A slow answer (the dashboard, its database locked for a moment on SQLite) is
    finished before the processes stop; serve exits 0 and leaves no process."""
    import sqlite3

    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    statuses: list[int] = []
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "integration"]).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        # A writer holds the SQLite database: a booking waits for it (timeout 30 s).
        holder = sqlite3.connect(tmp_path / "calsync.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")

        def book() -> None:
            answer = httpx.post(
                f"{base}/api/v1/reservations",
                headers=headers,
                json={
                    "item": "Room A",
                    "subject": "x",
                    "organizer": "a@example.com",
                    "start": "2030-01-01T10:00:00Z",
                    "end": "2030-01-01T11:00:00Z",
                },
                timeout=60,
            )
            statuses.append(answer.status_code)

        thread = threading.Thread(target=book)
        thread.start()
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        holder.execute("ROLLBACK")
        holder.close()
        thread.join(60)
    finally:
        stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert _children(process.pid) == []
    assert len(statuses) == 1, stderr
    assert statuses[0] < 500, (statuses, stderr)


def test_review10_the_session_key_is_never_printed(tmp_path, google):
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--http-processes", "2", "--log-format", "json")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        [child, *_] = wait_for(lambda: _children(process.pid), timeout=30)
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        [key] = [
            v.split(b"=", 1)[1] for v in environ if v.startswith(b"CALSYNC_SERVE_SESSION_KEY=")
        ]
        metrics = httpx.get(f"{base}/metrics").text
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert key.decode() not in stdout + stderr + metrics


def test_review10_on_a_taken_port_the_worker_opens_no_channel(tmp_path, google):
    """The port is another program's: serve exits 1, and its worker (which waits until
    the port takes connections, and the other program's does) must not have opened push
    channels whose notices go to that program."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = configure(tmp_path, google, port)
        process = serve(config, port, "--http-processes", "2")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert google.channels() == []


def test_review10_on_a_taken_port_one_process_opens_no_channel(tmp_path, google):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = configure(tmp_path, google, port)
        process = serve(config, port)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert google.channels() == []


def test_review10_two_processes_on_sqlite_book_concurrently(tmp_path, google):
    """SQLite takes one writer at a time across processes: bookings from two processes and
    the worker beside them wait for each other (BEGIN IMMEDIATE, 30 s), none fails."""
    from concurrent.futures import ThreadPoolExecutor

    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "integration"]).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        day += timedelta(days=2)

        def book(hour: int) -> httpx.Response:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as fresh:
                return fresh.post(
                    "/api/v1/reservations",
                    json={
                        "item": "Room A",
                        "subject": f"s{hour}",
                        "organizer": "a@example.com",
                        "start": (day + timedelta(hours=hour)).isoformat(),
                        "end": (day + timedelta(hours=hour, minutes=30)).isoformat(),
                    },
                )

        with ThreadPoolExecutor(8) as pool:
            answers_ = list(pool.map(book, range(60)))
        statuses = [answer.status_code for answer in answers_]
        assert statuses == [201] * 60, answers_[0].text
    finally:
        stderr = _stop(process)
    assert statuses == [201] * 60, (statuses, stderr)
    assert process.returncode == 0, stderr


def _in_flight(base: str, release: threading.Event) -> threading.Thread:
    """A request whose body arrives until `release` is set: it stays in flight."""

    def body():
        yield b'{"item": '
        release.wait(60)
        yield b'"Room A"}'

    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{base}/api/v1/reservations", content=body(), timeout=60,
                       headers={"Content-Type": "application/json"})  # fmt: skip

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.parametrize("processes", ["1", "2"])
def test_review10_sigterm_stops_the_worker_while_a_request_drains(tmp_path, google, processes):
    """After SIGTERM the worker claims nothing more, while the HTTP side finishes a
    request in flight. With N processes the worker went on claiming (and sending) until
    every HTTP process had drained: its grace started only then."""
    from calsync.bootstrap import start
    from calsync.config import load
    from calsync.sync import reservations as reservation_service

    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--http-processes", processes)
    base = f"http://127.0.0.1:{port}"
    release = threading.Event()
    try:
        wait_for(google.channels, timeout=60)  # the worker runs
        sender = _in_flight(base, release)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        services = start(load(config))
        try:
            day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
            reservation_service.create(
                services, "Room A", day + timedelta(days=2), day + timedelta(days=2, hours=1)
            )
        finally:
            services.close()
        time.sleep(4.0)  # a running worker would have sent it by now
        sent = google.events(ROOM)
        release.set()
        sender.join(60)
    finally:
        release.set()
        stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert sent == [], stderr


def test_review10_ctrl_c_to_the_process_group_finishes_a_request_and_exits_0(tmp_path, google):
    """A terminal's Ctrl-C reaches every process of the group at once: the HTTP processes
    get SIGINT from it and SIGTERM from their supervisor; the request in flight is still
    answered (not cut), serve exits 0 and leaves no process."""
    import subprocess
    import sys

    port = free_port()
    config = configure(tmp_path, google, port)
    command = [sys.executable, "-m", "calsync", "--config", str(config), "serve"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--http-processes", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    release = threading.Event()
    answered: list[int] = []
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "integration"]).stdout.strip()  # fmt: skip

        def body():
            yield b'{"item": "Room A", "subject": "x", '
            release.wait(60)
            day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
            start = (day + timedelta(days=2)).isoformat()
            end = (day + timedelta(days=2, hours=1)).isoformat()
            yield json.dumps({"start": start, "end": end})[1:].encode()

        def send() -> None:
            answer = httpx.post(f"{base}/api/v1/reservations", content=body(), timeout=60,
                                headers={"Content-Type": "application/json",
                                         "Authorization": f"Bearer {token}"})  # fmt: skip
            answered.append(answer.status_code)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(1.0)
        release.set()
        sender.join(60)
    finally:
        release.set()
        stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert answered == [201], stderr
    assert _children(process.pid) == []


def test_review10_a_process_started_again_serves_the_configuration_serve_started_with(
    tmp_path, google
):
    """The configuration file now names another database (an edit not yet meant to be
    live), then a process dies: its replacement read the file again and served the other
    database beside the first process and the worker, on the same port (a token good in
    one was refused by the other, at random)."""
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--no-worker", "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        before = wait_for(lambda: len(_children(process.pid)) == 2 and _children(process.pid))
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "viewer"]).stdout.strip()  # fmt: skip
        other = tmp_path / "other"
        other.mkdir()
        edited = config.read_text().replace(str(tmp_path / "calsync.db"), str(other / "o.db"))
        other_config = other / "calsync.toml"
        other_config.write_text(edited)
        assert CliRunner().invoke(app, ["--config", str(other_config), "init"]).exit_code == 0
        config.write_text(edited)
        os.kill(before[0], signal.SIGKILL)
        wait_for(
            lambda: len(after := _children(process.pid)) == 2 and before[0] not in after,
            timeout=60,
        )
        time.sleep(3)  # the replacement answers
        statuses = []
        for _ in range(30):  # fresh connections: either process
            with httpx.Client(base_url=base) as fresh:
                headers = {"Authorization": f"Bearer {token}"}
                statuses.append(fresh.get("/api/v1/events", headers=headers).status_code)
    finally:
        stderr = _stop(process)
    assert statuses == [200] * 30, stderr


def _running(pid: int) -> bool:
    """Whether `pid` still runs: a process that ended but that nobody reaped yet (its
    parent gone, whoever adopted it not yet come) is a zombie, and runs no more."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_review10_the_http_processes_stop_when_serve_is_killed(tmp_path, google):
    """serve killed with SIGKILL (an operator's kill -9, an OOM kill of the parent): its
    HTTP processes went on answering on the port, orphans with no worker, and a new
    `calsync serve` found the port taken."""
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--no-worker", "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        children = wait_for(lambda: len(_children(process.pid)) == 2 and _children(process.pid))
        process.kill()
        process.wait(30)

        def gone() -> bool:
            return not any(_running(pid) for pid in children)

        try:
            wait_for(gone, timeout=20)
        finally:
            for pid in children:  # the test's own processes, if they were left
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        assert not answers(f"{base}/healthz")
    finally:
        _stop(process)
