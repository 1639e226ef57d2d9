"""The services a request runs with: `create_app` keeps them on the application, and a
route asks for them as `ServicesDep` (nothing is read from a global)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from calsync.bootstrap import Services


async def services_of(request: Request) -> Services:
    """Async, though it awaits nothing: FastAPI then calls it on the event loop rather
    than in a worker thread (a thread hop per request saved)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services_of)]
