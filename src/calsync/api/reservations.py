"""`/api/v1/reservations`: list (by start, with filters), show, create, update, cancel.

Changes go through the same service as the command line (`calsync.sync.reservations`):
the reservation and its outbound event are written in one transaction (the outbox), the
booking policy refuses what the item does not accept (409, naming the rule) and the
database refuses a double booking (409).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from calsync.api.auth import allow
from calsync.api.pagination import CursorQuery, LimitQuery, Page, decode, not_a_cursor, page
from calsync.api.services import ServicesDep
from calsync.api.shapes import Reservation
from calsync.domain import reservations as domain
from calsync.domain.access import Permission
from calsync.domain.reservations import ReservationStatus
from calsync.exports import reservation_json
from calsync.store.reservations import ReservationFilter
from calsync.sync import reservations as reservation_service

router = APIRouter(prefix="/reservations", tags=["reservations"])
readers = [Depends(allow(Permission.read, Permission.reserve))]
writers = [Depends(allow(Permission.reserve))]
ReservationId = Annotated[str, Path(description="The reservation's id.", max_length=36)]
_LIST = "reservations"


#: The longest subject a booking made here may have (a calendar's title, not a document).
MAX_SUBJECT = 2000
#: Text without control characters (a tab and a line feed allowed), as an approval's reason.
PLAIN_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
#: An address: no control character at all (a line break makes it no calendar address).
ADDRESS = r"^[^\x00-\x1f\x7f]*$"


class NewReservation(BaseModel):
    item: str = Field(description="The workplace item's name.", min_length=1, max_length=200)
    start: AwareDatetime
    end: AwareDatetime
    subject: str = Field("", max_length=MAX_SUBJECT, pattern=PLAIN_TEXT)
    organizer: str = Field(
        "", description="The organizer's address.", max_length=500, pattern=ADDRESS
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> NewReservation:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ReservationChange(BaseModel):
    """What to change; what is left out stays."""

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    subject: str | None = Field(None, max_length=MAX_SUBJECT, pattern=PLAIN_TEXT)

    @model_validator(mode="after")
    def _changes_something(self) -> ReservationChange:
        if self.start is None and self.end is None and self.subject is None:
            raise ValueError("give at least one of start, end, subject")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


CANCELLED = "cancelled in calsync"


class Cancellation(BaseModel):
    reason: str = Field(CANCELLED, max_length=500, pattern=PLAIN_TEXT)


@router.get("", dependencies=readers, response_model=Page[Reservation])
def list_reservations(
    services: ServicesDep,
    item: Annotated[str | None, Query(description="Only this item's.")] = None,
    status: Annotated[ReservationStatus | None, Query()] = None,
    start: Annotated[AwareDatetime | None, Query(description="Ending after this.")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Starting before this.")] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Any:
    """Reservations by start time."""
    after = _after(decode(_LIST, cursor))
    with services.read() as uow:
        item_id = uow.items.get(item).id if item is not None else None
        where = ReservationFilter(
            item_id, status.value if status else None, start, end, limit + 1, after
        )
        found = uow.reservations.find(where)
    return page(_LIST, found, limit, _key, reservation_json)


@router.get("/{reservation_id}", dependencies=readers, response_model=Reservation)
def show_reservation(reservation_id: ReservationId, services: ServicesDep) -> Any:
    with services.read() as uow:
        return reservation_json(uow.reservations.get(reservation_id))


@router.post(
    "", dependencies=writers, status_code=status.HTTP_201_CREATED, response_model=Reservation
)
def create_reservation(body: NewReservation, services: ServicesDep) -> Any:
    """Reserve an item; its calendar gets the booking through the outbox."""
    created = reservation_service.create(
        services, body.item, body.start, body.end, body.subject, body.organizer
    )
    return reservation_json(created)


@router.patch("/{reservation_id}", dependencies=writers, response_model=Reservation)
def update_reservation(
    reservation_id: ReservationId, body: ReservationChange, services: ServicesDep
) -> Any:
    """Move or rename a reservation; a cancelled one stays cancelled (409)."""
    with services.read() as uow:
        current = uow.reservations.get(reservation_id)  # 404 before anything is written
    if current.status == ReservationStatus.cancelled:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"reservation {reservation_id} is cancelled: make a new one instead",
        )
    changed = reservation_service.update(
        services, reservation_id, body.start, body.end, body.subject
    )
    return reservation_json(changed)


@router.post("/{reservation_id}/cancel", dependencies=writers, response_model=Reservation)
def cancel_reservation(
    reservation_id: ReservationId, services: ServicesDep, body: Cancellation | None = None
) -> Any:
    """Cancel a reservation; its calendar entry is deleted through the outbox. Cancelling
    a cancelled reservation changes nothing."""
    reason = body.reason if body is not None else CANCELLED
    return reservation_json(reservation_service.cancel(services, reservation_id, reason))


def _key(reservation: domain.Reservation) -> list[Any]:
    return [reservation.start.isoformat(), reservation.id]


def _after(key: list[Any] | None) -> tuple[datetime, str] | None:
    if key is None:
        return None
    try:
        start, reservation_id = key
        when = datetime.fromisoformat(start)
        if when.tzinfo is None or not isinstance(reservation_id, str):
            raise ValueError(key)
        return when, reservation_id
    except (TypeError, ValueError):
        raise not_a_cursor(_LIST) from None
