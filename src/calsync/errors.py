"""The error tree of calsync. Adapters translate foreign errors into these at the boundary.

CalsyncError
├── ConfigError                      the TOML file or environment is wrong (names the key)
│   └── ConfigNotFound               no configuration file where calsync looked (says where)
├── DatabaseMissing                  the configured database has no calsync schema yet (init)
├── NotFound                         an item, reservation, event or calendar item is unknown
├── AmbiguousId                      a short id names several records (lists them)
├── InvalidCalendarData(reason)      one calendar entry cannot be read (bad iCalendar, zone, times)
├── DoubleBooking                    the store refused an overlapping reservation
├── ReservationChanged               a write found a reservation changed since it was read
├── StoreUnavailable                 the database failed or dropped the connection: retried
├── EventBusy                        another worker's live claim holds the event
│   └── CalendarBusy                 another worker is reading this calendar now
├── ClaimLost                        a run's claim was taken over: it commits and sends nothing more
├── ApprovalDecided                  an approval was already decided (or expired): decided once
├── NotAPerformer                    the caller is not the performer an approval names
├── CheckInRefused                   a check-in or check-out that cannot be (says why)
└── ProviderError                    a calendar service failed
    ├── DeltaKeyExpired              the delta key is no longer valid: synchronize in full
    ├── ProviderThrottled(retry_after)  429/503: try again later
    ├── ProviderRejected(status)     the service refused the request (412 precondition, 4xx)
    │   └── ObjectExists(provider_id)  a create found an object where it would write
    └── ProviderUnavailable          network error or 5xx
"""

from __future__ import annotations

from pathlib import Path


class CalsyncError(Exception):
    """Root of every error calsync raises on purpose."""


class ConfigError(CalsyncError):
    """The configuration is invalid; the message names the key and what is wrong."""


class ConfigNotFound(ConfigError):
    """No configuration file where calsync looked. `path` is the file it looked for;
    `default` says it was the default place (no --config, no CALSYNC_CONFIG)."""

    def __init__(self, message: str, path: Path, default: bool) -> None:
        super().__init__(message)
        self.path = path
        self.default = default


class DatabaseMissing(CalsyncError):
    """The configured database does not exist or has no calsync schema: only `calsync
    init` creates one."""


class NotFound(CalsyncError):
    """Something named by the caller does not exist."""


class AmbiguousId(CalsyncError):
    """A shortened id matches several records; the message lists them."""


class InvalidCalendarData(CalsyncError):
    """One calendar entry cannot be read. `reason` says what was wrong with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DoubleBooking(CalsyncError):
    """The store refused a reservation that overlaps an active one of the same item."""


class ReservationChanged(CalsyncError):
    """Another writer changed a reservation between this writer's read and its write."""


class StoreUnavailable(CalsyncError):
    """The database failed a statement or dropped the connection: tried again later."""


class EventBusy(CalsyncError):
    """Another worker holds a live claim on this event; the message says since when."""


class CalendarBusy(EventBusy):
    """Another worker is reading this calendar now; the message names the event that holds
    it, since when and until when its lease runs."""


class ClaimLost(CalsyncError):
    """This run no longer holds its event: its lease ran out and another worker claimed
    the event (or it was released). The run must stop without committing or sending."""


class ApprovalDecided(CalsyncError):
    """An approval is decided once: a second decision, or one after it expired, is
    refused; the message says how and when it was decided."""


class NotAPerformer(CalsyncError):
    """The caller may not decide this approval; the message names who decides it."""


class CheckInRefused(CalsyncError):
    """A check-in or check-out refused: too early, already ended, not holding its item,
    already checked in or out. The message says which, and when."""


class ProviderError(CalsyncError):
    """A calendar service failed; subclasses say how to react."""


class DeltaKeyExpired(ProviderError):
    """The provider no longer accepts the delta key: the next synchronization is full."""


class ProviderThrottled(ProviderError):
    """The provider asked us to slow down; `retry_after` is in seconds when it said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The provider refused the request (a failed precondition, a forbidden write)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ObjectExists(ProviderRejected):
    """A create found an object already where it would write (`provider_id`): a create
    that reached the provider before its run was cut short, or another's object."""

    def __init__(self, message: str, provider_id: str) -> None:
        super().__init__(message, 412)
        self.provider_id = provider_id


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered with a server error."""
