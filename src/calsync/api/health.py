"""`GET /healthz`: a probe for load balancers and Kubernetes, open without a token. 200
when the database answers, 503 when it does not; it says nothing more."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from calsync.api.services import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: {"description": "The database does not answer"}})
def healthz(services: ServicesDep) -> JSONResponse:
    try:
        with services.read() as uow:
            uow.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})
