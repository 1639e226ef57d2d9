"""Every route of the API, with a request that reaches it and the permissions it asks for
(`calsync.domain.access`): the role matrix and the secrets test walk this list, and a test
fails when a route is missing from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from calsync.domain.access import Permission

READ, RESERVE, OPERATE = Permission.read, Permission.reserve, Permission.operate
DECIDE = Permission.decide
MISSING_RESERVATION = "01a23456-0000-7000-8000-000000000000"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    needs: tuple[Permission, ...]
    path: str = ""
    body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.path or self.template

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


RESERVATION = {"item": "Desk 1", "start": "2026-12-09T09:00:00Z", "end": "2026-12-09T10:00:00Z"}

ROUTES = [
    Route("GET", "/api/v1/workplace-items", (READ, RESERVE)),
    Route("GET", "/api/v1/workplace-items/{name}", (READ, RESERVE), "/api/v1/workplace-items/Room A"),
    Route("GET", "/api/v1/reservations", (READ, RESERVE)),
    Route("GET", "/api/v1/reservations/{reservation_id}", (READ, RESERVE),
          f"/api/v1/reservations/{MISSING_RESERVATION}"),
    Route("POST", "/api/v1/reservations", (RESERVE,), body=RESERVATION),
    Route("PATCH", "/api/v1/reservations/{reservation_id}", (RESERVE,),
          f"/api/v1/reservations/{MISSING_RESERVATION}", {"subject": "Moved"}),
    Route("POST", "/api/v1/reservations/{reservation_id}/cancel", (RESERVE,),
          f"/api/v1/reservations/{MISSING_RESERVATION}/cancel"),
    Route("GET", "/api/v1/approvals", (READ, DECIDE)),
    Route("GET", "/api/v1/approvals/{approval_id}", (READ, DECIDE), "/api/v1/approvals/1"),
    Route("POST", "/api/v1/approvals/{approval_id}/approve", (DECIDE,),
          "/api/v1/approvals/1/approve", {"reason": "fine"}),
    Route("POST", "/api/v1/approvals/{approval_id}/reject", (DECIDE,),
          "/api/v1/approvals/1/reject", {"reason": "no"}),
    Route("GET", "/api/v1/events", (READ,)),
    Route("GET", "/api/v1/events/{event_id}", (READ,), "/api/v1/events/1"),
    Route("POST", "/api/v1/events/{event_id}/reprocess", (OPERATE,), "/api/v1/events/1/reprocess"),
    Route("POST", "/api/v1/events/reprocess", (OPERATE,), body={"item": "Room A"}),
    Route("GET", "/api/v1/calendar-items", (READ,)),
    Route("GET", "/api/v1/calendar-items/{calendar_item_id}", (READ,), "/api/v1/calendar-items/1"),
    Route("GET", "/api/v1/synchronizations", (READ,)),
    Route("GET", "/api/v1/synchronizations/{synchronization_id}", (READ,),
          "/api/v1/synchronizations/1"),
    Route("POST", "/api/v1/synchronizations", (OPERATE,), body={"item": "Room A"}),
    Route("GET", "/api/v1/connections", (READ,)),
    Route("GET", "/api/v1/connections/{name}", (READ,), "/api/v1/connections/dav"),
    Route("GET", "/api/v1/connections/{name}/health", (READ,), "/api/v1/connections/dav/health"),
    Route("POST", "/api/v1/connections/{name}/test", (OPERATE,), "/api/v1/connections/dav/test"),
    Route("GET", "/metrics", (READ,)),
]  # fmt: skip

#: Open without a token: the probe, the provider webhooks (verified on their own) and the
#: API's documentation.
OPEN = {
    ("GET", "/healthz"),
    ("POST", "/webhooks/google"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/openapi.json"),
}
