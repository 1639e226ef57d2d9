"""A Google Calendar API v3 emulator: test equipment for calsync's Google adapter.

It follows the wire protocol written down in shared/PROVIDERS.md §1 (events.list full and
incremental sync, event fields, writes with If-Match, push channels, errors), and Google's
OAuth token endpoint for service accounts. Start one per test:

    with GoogleCalendarEmulator() as google:
        info = google.service_account_info("example.com")    # a key file for google-auth
        google.add_calendar("room-1@resource.calendar.google.com")
        # the adapter talks to google.api_url with tokens from google.token_uri
        google.put_event(room, {...})                         # a change behind its back
        google.fail_next(1, status=429, retry_after=2)        # a throttled request

Modules: emulator (the class and its test-side API), server (HTTP), auth (tokens) and
keys (RSA, JWT), service (the operations), listing (events.list rounds and tokens),
editing and bodies (writes and their validation), calendar (state and change tracking),
recurrence (instances), rooms (a room deciding for itself), push (channels), errors,
times.
"""

from .auth import service_account_assertion
from .emulator import GoogleCalendarEmulator, RecordedRequest
from .errors import GoogleError
from .push import Delivery

__all__ = [
    "Delivery",
    "GoogleCalendarEmulator",
    "GoogleError",
    "RecordedRequest",
    "service_account_assertion",
]
