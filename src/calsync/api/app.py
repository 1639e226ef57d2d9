"""`create_app(services)`: the FastAPI application `calsync serve` runs. Nothing happens at
import time; the services (settings, store, providers) are handed in and kept on the
application (`calsync.api.services`).

The admin pages are under `/admin` (`calsync.web`: a login with a token, then a session
cookie), and `/` redirects there.

Open without a token: `/healthz`, the provider webhooks (each notification verified on
its own, `calsync.api.webhooks`) and the API's documentation (`/docs`, `/openapi.json`).
Everything else asks for `Authorization: Bearer <token>` with a role that may (see
`calsync.api.auth` and `calsync.domain.access`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI

from calsync.api import (
    approvals,
    calendar_items,
    connections,
    errors,
    events,
    health,
    items,
    reservations,
    synchronizations,
)
from calsync.api.metrics import metrics_router
from calsync.api.webhooks import webhook_router
from calsync.bootstrap import Services
from calsync.web.app import mount as mount_admin_pages

API_PREFIX = "/api/v1"
#: The largest request body (bytes): no route takes more than a few kilobytes (a thousand
#: ids to reprocess, 12 kB); a larger one is refused (413) while it arrives, before it is
#: parsed (bodies are read before the token is checked).
MAX_BODY = 1024 * 1024


def api_router() -> APIRouter:
    """The routes under /api/v1, each module one part of DESIGN.md's words."""
    api = APIRouter(prefix=API_PREFIX)
    parts = (
        items,
        reservations,
        approvals,
        events,
        calendar_items,
        synchronizations,
        connections,
    )
    for part in parts:
        api.include_router(part.router)
    return api


#: Set by `calsync serve --http-processes N` for its processes: its --log-format...
LOG_FORMAT_ENV = "CALSYNC_SERVE_LOG_FORMAT"
#: ...and the file holding the configuration it started with (its settings as JSON, a
#: file of its own: hundreds of items are more than an environment variable may hold),
#: which a process started again later serves, whatever the configuration says by then.
SETTINGS_ENV = "CALSYNC_SERVE_SETTINGS_FILE"
#: ...and its own process id: a process that starts after serve died stops at once.
SERVE_PID_ENV = "CALSYNC_SERVE_PID"
_PROCESS_LOGS: list[Any] = []


def from_environment() -> FastAPI:
    """The app as each process of `calsync serve --http-processes N` builds it: from the
    configuration `calsync serve` started with (the file SETTINGS_ENV names), the schema
    already opened by the process that started it, logging as `--log-format` said. A
    process that cannot build it exits as uvicorn's failed start (STARTUP_FAILURE): its
    supervisor then stops, rather than start it again in a loop."""
    import logging
    import os
    import sys

    from uvicorn.config import STARTUP_FAILURE

    from calsync.bootstrap import build
    from calsync.config import Settings
    from calsync.worker.logs import worker_logs

    _stop_with_parent(int(os.environ.get(SERVE_PID_ENV) or os.getppid()))
    # For the process's life (kept: a context collected would restore the handlers), its
    # log lines like the starting process's.
    _PROCESS_LOGS.append(worker_logs(os.environ.get(LOG_FORMAT_ENV, "text")))
    _PROCESS_LOGS[-1].__enter__()
    try:
        settings = Settings.model_validate_json(Path(os.environ[SETTINGS_ENV]).read_bytes())
        return create_app(build(settings, migrate=False))
    except Exception as error:  # noqa: BLE001 - whatever stops it, it cannot serve
        logging.getLogger("calsync.api").error("this HTTP process cannot start: %s", error)
        sys.exit(STARTUP_FAILURE)


def _stop_with_parent(parent: int) -> None:
    """Stop this HTTP process (SIGTERM: uvicorn finishes its requests) once `calsync
    serve` is gone, killed without a chance to stop it: an orphan would go on answering
    on the port, with no worker, and keep it from the next `calsync serve`. `parent` is
    serve's process id as serve said it: serve killed while this process was starting
    is already gone when it is first looked for."""
    import os
    import signal
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="calsync",
        description="Workplace reservations kept in step with room calendars.",
        version="1",
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        max_body_size=MAX_BODY,
    )
    app.state.services = services
    errors.install(app)
    app.include_router(health.router)
    app.include_router(webhook_router(services))
    app.include_router(metrics_router(services))
    app.include_router(api_router())
    mount_admin_pages(app, services)
    return app
