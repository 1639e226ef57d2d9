"""Google Calendar API v3 adapter (Workspace resource calendars).

`GoogleCalendarProvider` (adapter) reads a room's calendar with events.list and writes
with events.insert, update, patch and delete; `read_event` (reader) turns one event's
JSON into the domain's `CalendarObject`; writer builds the request bodies; auth gets
service account tokens through google-auth; errors turns Google's error answers into
calsync's errors. shared/PROVIDERS.md §1 holds the protocol facts these follow.

The adapter (httpx, google-auth, cryptography) is imported when first asked for: a
process of the reader pool, which unpickles `read_event`, needs the reader only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from calsync.providers.google.reader import read_event

if TYPE_CHECKING:
    from calsync.providers.google.adapter import GoogleCalendarProvider

__all__ = ["GoogleCalendarProvider", "read_event"]


def __getattr__(name: str) -> Any:
    if name == "GoogleCalendarProvider":
        from calsync.providers.google.adapter import GoogleCalendarProvider

        return GoogleCalendarProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
