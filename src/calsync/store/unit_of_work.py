"""The unit of work: one transaction, safe by default.

with uow:
    ...            # repositories as attributes
    uow.commit()   # leaving the block without commit() rolls back
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from calsync.store.approvals import ApprovalRepository
from calsync.store.channels import ChannelRepository
from calsync.store.items import ItemRepository
from calsync.store.records import (
    CalendarItemRepository,
    EventRepository,
    SynchronizationRepository,
)
from calsync.store.reservations import ReservationRepository
from calsync.store.tokens import TokenRepository


class UnitOfWork:
    session: Session
    items: ItemRepository
    reservations: ReservationRepository
    events: EventRepository
    calendar_items: CalendarItemRepository
    synchronizations: SynchronizationRepository
    channels: ChannelRepository
    approvals: ApprovalRepository
    tokens: TokenRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self.session_factory()
        self.items = ItemRepository(self.session)
        self.reservations = ReservationRepository(
            self.session, self.items.names, self.items.name_of, self.items.id_of
        )
        self.events = EventRepository(self.session)
        self.calendar_items = CalendarItemRepository(self.session)
        self.synchronizations = SynchronizationRepository(self.session)
        self.channels = ChannelRepository(self.session)
        self.approvals = ApprovalRepository(self.session)
        self.tokens = TokenRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # close() discards whatever was not committed, and leaves loaded rows readable.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
