"""The starter configuration `calsync init` writes where none was found.

A new user's first command is `calsync init` in an empty folder; like `git init` it then
leaves something to edit instead of an error: a `calsync.toml` that validates as it is
(a SQLite store beside it, no items yet), with the usual sections written out as comments.
Only the default place is filled this way: a file named by `--config` or CALSYNC_CONFIG
that does not exist is more likely a typo, and stays an error.
"""

from __future__ import annotations

from pathlib import Path

from calsync import config as config_module
from calsync.errors import ConfigNotFound

STARTER = """\
# calsync configuration, written by `calsync init`. Check it with `calsync config check`.

[database]
url = "sqlite:///calsync.db"            # production: postgresql://user@host/calsync

[sync]
poll_seconds = 300                      # the worker reads every bound calendar this often

[retention]                             # days the exchange log is kept; 0 keeps forever
processed_days = 30                     # processed events and their calendar items
error_days = 90                         # events in error
synchronization_days = 90               # synchronization summaries

# [connections.dav]
# kind = "caldav"
# url = "https://dav.example.com"
# username = "calsync"
# password_env = "CALSYNC_DAV_PASSWORD" # the secret stays in the environment
# (or a bearer token: token_env = "CALSYNC_DAV_TOKEN", or token_file = "/path/to/token")

# [[items]]
# name = "Boardroom"
# kind = "room"
# time_zone = "Europe/Berlin"
#
# [items.binding]
# connection = "dav"
# calendar = "/rooms/boardroom/"
# room_address = "boardroom@example.com"
"""


def write_starter_if_missing(explicit: Path | None) -> Path | None:
    """Write the starter file where calsync looks by default, if it found no file there;
    the path written, or None when a configuration exists."""
    try:
        config_module.load(explicit)
    except ConfigNotFound as missing:
        if not missing.default:
            raise
        missing.path.write_text(STARTER, encoding="utf-8")
        return missing.path
    return None
