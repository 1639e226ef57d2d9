"""Writes to one calendar, shared by the API operations and the test-side methods.

- insert: a new event; an id that exists, even cancelled, is a 409 `duplicate`.
- write (update/patch): a cancelled target is a 410 `deleted` ("Resource has been
  deleted"); writing an instance of a series creates or changes that instance's exception
  (an event with `recurringEventId` and `originalStartTime`), as the recurring events
  guide describes for modifying one instance.
- cancel (delete): the event stays as a tombstone with `status: "cancelled"`; cancelling
  an instance stores a cancelled exception; cancelling a master cancels its exceptions.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from .bodies import Author, build_event, check_client_id, merge_patch, new_event_id
from .calendar import Calendar, Event, Resolved, Stamps, is_cancelled, is_master
from .errors import deleted, duplicate, invalid

#: Sets the room's answer on an event about to be stored (see rooms.py).
Decide = Callable[[Calendar, Event], None]


def _no_decision(calendar: Calendar, event: Event) -> None:
    return None


def insert(
    calendar: Calendar,
    body: object,
    author: Author,
    stamps: Stamps,
    decide: Decide = _no_decision,
) -> Event:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    given = body.get("id")
    if given is None:
        event_id = new_event_id()
    elif author.api:
        event_id = check_client_id(given)
    elif isinstance(given, str) and given:
        event_id = given
    else:
        raise invalid("Invalid resource id value.", location="id")
    if event_id in calendar.events:
        raise duplicate()
    event = build_event(calendar, body, event_id=event_id, previous=None, author=author)
    decide(calendar, event)
    return calendar.record(event, stamps)


def write(
    calendar: Calendar,
    target: Resolved,
    body: object,
    author: Author,
    stamps: Stamps,
    *,
    patch: bool,
    decide: Decide = _no_decision,
) -> Event:
    """Replace (update) or merge into (patch) the event or instance `target` names."""
    current = target.current(calendar)
    if is_cancelled(current) and author.api:
        raise deleted()
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    new_body = merge_patch(current, body) if patch else body
    if body.get("attendeesOmitted") is True:
        new_body = {**new_body, "attendees": answers_only(current, body.get("attendees"))}
        new_body.pop("attendeesOmitted")
    event = build_event(calendar, new_body, event_id=target.id, previous=current, author=author)
    if target.stored is None:
        event.pop("created", None)  # a new exception is created now
    decide(calendar, event)
    calendar.record(event, stamps)
    if is_cancelled(event):
        _cancel_exceptions(calendar, event, stamps)
    return event


def answers_only(current: dict, given: object) -> list:
    """`attendeesOmitted: true` on a write: the attendees sent change their own responses
    (one not on the list is added); every other attendee stays as it was ("When updating
    an event, this can be used to only update the participant's response")."""
    kept = [dict(a) for a in current.get("attendees") or []]
    for attendee in given if isinstance(given, list) else []:
        if not isinstance(attendee, dict) or not isinstance(attendee.get("email"), str):
            raise invalid("Each attendee needs an email.")
        email = attendee["email"].lower()
        same = [a for a in kept if str(a.get("email", "")).lower() == email]
        if same:
            same[0].update(attendee)
        else:
            kept.append(dict(attendee))
    return kept


def cancel(calendar: Calendar, target: Resolved, stamps: Stamps) -> Event:
    """Delete: keep a cancelled tombstone (and cancel a master's exceptions with it)."""
    current = target.current(calendar)
    if is_cancelled(current):
        raise deleted()
    event = copy.deepcopy(current)
    event["status"] = "cancelled"
    if target.stored is None:
        event.pop("created", None)
    calendar.record(event, stamps)
    _cancel_exceptions(calendar, event, stamps)
    return event


def _cancel_exceptions(calendar: Calendar, master: Event, stamps: Stamps) -> None:
    if not is_master(master):
        return
    for exception in calendar.exceptions(master["id"]).values():
        if not is_cancelled(exception):
            exception["status"] = "cancelled"
            calendar.record(exception, stamps)
