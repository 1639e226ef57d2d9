"""`create_app(services)`: the FastAPI application `calsync serve` runs. Nothing happens at
import time; the services (settings, store, providers) are handed in."""

from __future__ import annotations

from fastapi import FastAPI

from calsync.api.webhooks import webhook_router
from calsync.bootstrap import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="calsync",
        description="Workplace reservations kept in step with room calendars.",
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(webhook_router(services))
    return app
