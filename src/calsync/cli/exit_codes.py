"""The exit codes of `calsync`, for cron jobs and probes. Shown in `calsync --help`.

When several apply to one `sync`, the most serious wins: 3, then 4, then 5.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    #: Everything asked for was done.
    ok = 0
    #: The configuration or the request was wrong (a missing item, a bad file), or an
    #: error stopped the command.
    error = 1
    #: The command line itself was wrong (an unknown option): the code of every Click program.
    usage = 2
    #: Events ended in error: a read failed (`sync`), an outbound event could not be sent
    #: (`sync`, `worker --once`), or a reprocessed event failed again (`events reprocess`).
    events_failed = 3
    #: A synchronization needs an admin's confirmation before it cancels anything
    #: (`sync` ending `needs_confirmation`; rerun with `--confirm-sweep` once checked).
    needs_confirmation = 4
    #: Another live run holds the calendar (`sync`): try again later.
    calendar_busy = 5
    #: `worker --check`: the worker's liveness file is missing or stale.
    not_alive = 6
    #: `connections test`: the credentials or a bound calendar failed.
    connection_failed = 7
    #: `approvals approve|reject`: the approval was already decided (or expired, or the
    #: booking no longer waits): nothing was changed.
    already_decided = 8
    #: `approvals approve|reject`: the caller is not a performer of the approval.
    not_a_performer = 9


HELP = (
    "Exit codes: 0 all good; 1 configuration or other error; 2 wrong command line;"
    " 3 events ended in error; 4 a synchronization needs confirmation;"
    " 5 calendar busy (another run holds it); 6 worker --check found no live worker;"
    " 7 connections test found a failure; 8 approval already decided;"
    " 9 not a performer of the approval."
)
