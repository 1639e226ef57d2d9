"""The words of the exchange log: event actions and states, calendar item kinds and statuses.

An event is one standardized exchange with a calendar service; a calendar item is one
change that a calendar service reported. Both are stored records; these enums are their
vocabulary, shared by the store, the service layer, the CLI and the JSON exports.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    create = "create"
    update = "update"
    delete = "delete"
    read = "read"
    retrieve_attendees = "retrieve_attendees"
    notify = "notify"
    respond = "respond"


#: Actions that write to the provider (outbound, from the transactional outbox).
OUTBOUND = frozenset({Action.create, Action.update, Action.delete, Action.respond})


class EventState(StrEnum):
    new = "new"
    processing = "processing"
    processed = "processed"
    error = "error"


class CalendarItemKind(StrEnum):
    new_reservation = "new_reservation"
    reservation_update = "reservation_update"
    cancellation = "cancellation"


class CalendarItemStatus(StrEnum):
    pending = "pending"
    applied = "applied"
    awaiting_approval = "awaiting_approval"
    rejected = "rejected"
    skipped = "skipped"
    failed = "failed"
