"""A local Radicale CalDAV server in a subprocess: `RadicaleServer`.

Used by `calsync demo` and by the tests that need a real CalDAV server. The server listens
on a loopback port, keeps its collections in `storage_dir`, asks for no password and lets
every user read and write every collection (owner-less rights), so calendars can live at
any path such as `/rooms/room-a/`.

    with RadicaleServer(tmp_path / "dav") as server:
        provider = CalDAVProvider(server.url)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

_STDERR_TAIL = 2000
_RIGHTS = """\
[everything]
user: .*
collection: .*
permissions: RrWw
"""


class RadicaleServerError(RuntimeError):
    """Radicale did not start; the message ends with the tail of its error output."""


class RadicaleServer:
    """A Radicale process on `host:port` (port 0 picks a free one) serving `storage_dir`."""

    def __init__(
        self,
        storage_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_sync_token_age: int | None = None,
        start_timeout: float = 20.0,
        reporting: dict[str, str] | None = None,
    ) -> None:
        self.storage_dir = Path(storage_dir)
        self.host = host
        self.port = port
        self.max_sync_token_age = max_sync_token_age
        self.start_timeout = start_timeout
        self.reporting = reporting or {}
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._config_dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. "http://127.0.0.1:41234"."""
        if self._process is None:
            raise RadicaleServerError("the Radicale server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The Radicale process's id (benchmarks read its CPU time)."""
        if self._process is None:
            raise RadicaleServerError("the Radicale server is not running")
        return self._process.pid

    def start(self) -> Self:
        """Start Radicale and return once it answers HTTP requests."""
        if self._process is not None:
            return self
        if self.port == 0:
            self.port = _free_port(self.host)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self._config_dir = tempfile.TemporaryDirectory(prefix="calsync-radicale-")
        config_path = self._write_config(Path(self._config_dir.name))
        # Kept open while the process runs, to quote its error output if it fails to start.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        env = {key: value for key, value in os.environ.items() if key != "RADICALE_CONFIG"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=env,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit) and remove the config files."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _write_config(self, folder: Path) -> Path:
        rights_path = folder / "rights"
        rights_path.write_text(_RIGHTS, encoding="utf-8")
        storage = [f"filesystem_folder = {self.storage_dir.resolve()}"]
        if self.max_sync_token_age is not None:
            storage.append(f"max_sync_token_age = {self.max_sync_token_age}")
        config = "\n".join(
            [
                "[server]",
                f"hosts = {self.host}:{self.port}",
                "[auth]",
                "type = none",
                "[rights]",
                "type = from_file",
                f"file = {rights_path}",
                "[storage]",
                *storage,
                "[web]",
                "type = none",
                "[logging]",
                "level = warning",
                "[reporting]",
                *(f"{key} = {value}" for key, value in self.reporting.items()),
                "",
            ]
        )
        config_path = folder / "config"
        config_path.write_text(config, encoding="utf-8")
        return config_path

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._process.poll() is not None:
                    raise RadicaleServerError(
                        f"Radicale exited with code {self._process.returncode} "
                        f"before answering on {self.url}: {self._stderr_tail()}"
                    )
                try:
                    client.request("OPTIONS", self.url + "/")
                    return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RadicaleServerError(
                        f"Radicale did not answer on {self.url} within {self.start_timeout} s: "
                        f"{self._stderr_tail()}"
                    )
                time.sleep(0.05)

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - _STDERR_TAIL))
        return self._stderr.read().decode("utf-8", "replace").strip() or "(no output)"


def _free_port(host: str) -> int:
    """A port that was free a moment ago (the kernel picks it for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
