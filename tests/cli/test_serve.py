"""`calsync serve` as a real process: the webhook route answers on its port, the embedded
worker opens the push channel whose opening notice the route accepts, and SIGTERM stops
both cleanly; with --no-worker only the route runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from calsync.cli import app
from tests.api.conftest import free_port, wait_for
from tests.providers.google.conftest import BERLIN, ROOM
from tests.providers.google_emulator import GoogleCalendarEmulator

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def google():
    with GoogleCalendarEmulator() as emulator:
        emulator.add_calendar(ROOM, time_zone=BERLIN, summary="Room 1")
        yield emulator


def configure(tmp_path: Path, google, port: int) -> Path:
    key = tmp_path / "key.json"
    key.write_text(json.dumps(google.service_account_info()))
    config = tmp_path / "calsync.toml"
    config.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "calsync.db"}"

[push]
address = "http://127.0.0.1:{port}/webhooks/google"

[connections.workspace]
kind = "google"
subject = "admin@example.com"
service_account_file = "{key}"
api_url = "{google.api_url}"

[[items]]
name = "Room A"
time_zone = "{BERLIN}"
binding = {{ connection = "workspace", calendar = "{ROOM}", room_address = "{ROOM}" }}
"""
    )
    initialized = CliRunner().invoke(app, ["--config", str(config), "init"])
    assert initialized.exit_code == 0, initialized.output
    return config


def serve(config: Path, port: int, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "calsync", "--config", str(config), "serve"]
    return subprocess.Popen(
        [*command, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def answers(url: str) -> bool:
    try:
        httpx.post(url, timeout=1.0)
    except httpx.TransportError:
        return False
    return True


def test_serve_runs_the_route_and_the_worker_and_stops_on_sigterm(tmp_path, google):
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port)
    try:
        [channel] = wait_for(google.channels, timeout=30)
        [notice] = google.wait_for_deliveries(1, timeout=10)
        assert (notice.resource_state, notice.status) == ("sync", 200)
        assert notice.channel_id == channel["id"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert channel["token"] not in stderr


def test_serve_without_the_worker_answers_webhooks_and_the_api(tmp_path, google):
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--no-worker")
    url = f"http://127.0.0.1:{port}/webhooks/google"
    try:
        wait_for(lambda: answers(url), timeout=30)
        refused = httpx.post(url, headers={"X-Goog-Channel-ID": "x", "X-Goog-Channel-Token": "y"})
        assert refused.status_code == 404
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        assert httpx.get(f"{base}/api/v1/events").status_code == 401
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "viewer"]).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{base}/api/v1/events", headers=headers).status_code == 200
        with httpx.Client(base_url=base) as browser:  # the admin pages, logged in by the token
            assert browser.get("/").headers["location"] == "/admin/"
            form = browser.get("/admin/login").text
            csrf = form.split('name="csrf" value="')[1].split('"')[0]
            browser.post("/admin/login", data={"token": token, "csrf": csrf})
            assert "Synchronization health" in browser.get("/admin/").text
        time.sleep(0.5)
        assert google.channels() == []  # no worker: no channel opened
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def _children(pid: int) -> list[int]:
    """The processes `pid` started that run calsync's app (multiprocessing's spawn)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def test_serve_in_two_processes_shares_its_port_and_its_sessions_and_stops_on_sigterm(
    tmp_path, google
):
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--no-worker", "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz"), timeout=60)
        wait_for(lambda: len(_children(process.pid)) == 2, timeout=30)
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "viewer"]).stdout.strip()  # fmt: skip
        with httpx.Client(base_url=base) as browser:
            form = browser.get("/admin/login").text
            csrf = form.split('name="csrf" value="')[1].split('"')[0]
            browser.post("/admin/login", data={"token": token, "csrf": csrf})
            cookies = dict(browser.cookies)

        def visit(_: int) -> int:
            # A connection of its own each: whichever process accepts it answers.
            with httpx.Client(base_url=base, cookies=cookies) as fresh:
                return fresh.get("/admin/events").status_code

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(visit, range(40)))
        assert statuses == [200] * 40  # the session holds in either process
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert _children(process.pid) == []


def test_serve_in_two_processes_runs_the_worker_beside_them(tmp_path, google):
    port = free_port()
    config = configure(tmp_path, google, port)
    process = serve(config, port, "--http-processes", "2")
    try:
        [channel] = wait_for(google.channels, timeout=30)  # the worker opened it
        [notice] = google.wait_for_deliveries(1, timeout=10)  # a process accepted it
        assert (notice.resource_state, notice.status) == ("sync", 200)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert channel["token"] not in stderr


def test_serve_on_a_taken_port_exits_1(tmp_path, google):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = configure(tmp_path, google, port)
        process = serve(config, port, "--no-worker", "--http-processes", "2")
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"could not serve on 127.0.0.1:{port}" in stdout + stderr


def test_serve_in_two_processes_with_hundreds_of_items(tmp_path, google):
    """The processes take serve's configuration from a file: 400 rooms' settings are more
    than an environment variable may hold (128 KiB on Linux), and no process started."""
    port = free_port()
    config = configure(tmp_path, google, port)
    rooms = "".join(
        f'\n[[items]]\nname = "Room {n:03d}"\ntime_zone = "{BERLIN}"\n' for n in range(400)
    )
    config.write_text(config.read_text() + rooms)
    initialized = CliRunner().invoke(app, ["--config", str(config), "init"])
    assert initialized.exit_code == 0, initialized.output
    kept_before = set(Path(tempfile.gettempdir()).glob("calsync-serve-*.json"))
    process = serve(config, port, "--no-worker", "--http-processes", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(f"{base}/healthz") or process.poll() is not None, timeout=60)
        assert process.poll() is None, process.communicate(timeout=5)
        token = CliRunner().invoke(app, ["--config", str(config), "tokens", "create",
                                         "--role", "viewer"]).stdout.strip()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(f"{base}/api/v1/workplace-items?limit=500", headers=headers)
        assert listed.status_code == 200
        assert len(listed.json()["results"]) == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
    assert set(Path(tempfile.gettempdir()).glob("calsync-serve-*.json")) <= kept_before
