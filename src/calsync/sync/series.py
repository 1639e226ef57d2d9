"""The room's answers to the instances of a series, written once on the series:
`by_series(provider, answers)` and `answer_series(provider, place, series, now)`.

Where the service lists each instance of a series as an object of its own
(`Capabilities.answers_series`: Google Calendar read with `singleEvents`), every instance
gets a room answer of its own. Written instance by instance, each answered instance
becomes an exception of its series: when the organizer later moves the series, the
answered instances stay behind at their old times beside the new ones (and calsync holds
the room at both), and a daily series of 30 costs 30 writes. So the answers are grouped by
series: the answer most of a series' instances get is written once, on the series, and
only the instances that get another one (the conflicting occurrences declined) are
answered one by one, as are series of one answer.

The guards, as invariant 5 of DESIGN.md asks (an organizer's change is never lost to a
write made from an older state):
- The series is read, then its instances. Only the instances still at the version their
  answer was decided on are answered by the series write, which is conditional on the
  series' version as read (If-Match): an organizer who changes the series in between
  makes it fail, and the series is read and decided again (`_ATTEMPTS` times at most).
- An instance no longer at the version its answer was decided on (moved, changed, gone,
  the whole series moved) is `changed`: its answer is not written, and its change is for
  a synchronization of the calendar to read and decide again.
- After the write the instances are listed again: one that does not show the answer
  (an exception with attendees of its own, which the series' attendees do not reach)
  but is still at the version decided on is answered on its own (`alone`), as are all of
  them when the series cannot be seen (not shared with the room's calendar, or gone) or
  does not invite the room (invited to some occurrences only: an answer on the series
  would invite it to every one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from calsync.domain.entries import CalendarEntry, Window
from calsync.errors import InvalidCalendarData, ProviderRejected, ProviderUnavailable
from calsync.providers.base import Exchange, Provider, RemoteChange, RoomAnswer
from calsync.sync.conflicts import refused_as_changed

#: How often the series is read and written again when it changed in between.
_ATTEMPTS = 3
#: The series is listed a little beyond its instances' first start and last end.
_MARGIN = timedelta(seconds=1)
_EVER = Window(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


class Answer(Protocol):
    """One room answer to one instance: where the instance lives, the answer (PARTSTAT),
    and the version it was decided on with the instance's payload at that version."""

    @property
    def provider_id(self) -> str: ...

    @property
    def partstat(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def decided(self) -> bytes: ...


A = TypeVar("A", bound=Answer)


@dataclass(frozen=True)
class Series(Generic[A]):
    """Answers of one series given the same answer: written once, on `series_id`."""

    series_id: str
    partstat: str
    answers: tuple[A, ...]


@dataclass(frozen=True)
class Place:
    """Where the answers go: the room's calendar and address, and the item's time zone
    (in which the instances' payloads are read)."""

    calendar: str
    room_address: str
    zone: str


@dataclass
class Answered(Generic[A]):
    """What became of a series' answers: `answered` by the series write, to be answered
    `alone`, or `changed` since their answer was decided (not written). `exchange` is the
    series write, if one was made."""

    answered: list[A] = field(default_factory=list)
    alone: list[A] = field(default_factory=list)
    changed: list[A] = field(default_factory=list)
    exchange: Exchange | None = None


def by_series(provider: Provider, answers: Sequence[A]) -> tuple[list[Series[A]], list[A]]:
    """One room's answers grouped: those written on a series (two or more instances of it
    given the answer most of its instances get), and the others, each answered alone."""
    if not provider.capabilities.answers_series:
        return [], list(answers)
    members: dict[str, list[A]] = {}
    alone: list[A] = []
    for answer in answers:
        series_id = provider.series_of(answer.decided)
        if series_id is None:
            alone.append(answer)
        else:
            members.setdefault(series_id, []).append(answer)
    found = []
    for series_id, answering in members.items():
        counts = Counter(answer.partstat for answer in answering)
        # The most given answer; between equals, the room takes part rather than not.
        partstat = max(counts, key=lambda p: (counts[p], p == "ACCEPTED"))
        together = tuple(a for a in answering if a.partstat == partstat)
        if len(together) < 2:
            alone += answering
            continue
        found.append(Series(series_id, partstat, together))
        alone += [a for a in answering if a.partstat != partstat]
    return found, alone


def answer_series(
    provider: Provider, place: Place, series: Series[A], now: datetime
) -> Answered[A]:
    """Write the series' answer on the series event, guarded as the module says."""
    done: Answered[A] = Answered()
    waiting = list(series.answers)
    span = _span(provider, waiting, place.zone)
    if span is None:  # not one of them readable as decided: each goes alone
        done.alone += waiting
        return done
    for _ in range(_ATTEMPTS):
        read = _read(provider, place.calendar, series.series_id, span)
        if read is None:  # the series cannot be seen: each instance is answered alone
            done.alone += waiting
            return done
        master, instances = read
        if not _invites_room(provider, master, place):
            # The room was invited to some occurrences only: answering the series would
            # invite it to every one.
            done.alone += waiting
            return done
        if _room_partstat(provider, master, place) not in ("NEEDS-ACTION", series.partstat):
            # The series already carries another answer, which the occurrences not in this
            # run hold (accepted before, say): writing over it would answer them too.
            done.alone += waiting
            return done
        waiting = _unchanged(waiting, instances, done)
        if len(waiting) < 2:
            done.alone += waiting
            return done
        edit = RoomAnswer(place.room_address, series.partstat, now)
        assert master.version is not None  # _read refuses a series without one
        try:
            written = provider.edit(
                place.calendar, series.series_id, master.version, master.data, edit
            )
        except ProviderRejected as exc:
            if not refused_as_changed(exc):
                raise
            continue  # the series changed between the read and the write: again
        done.exchange = written.exchange
        _settle(provider, place, series, waiting, span, done)
        return done
    raise ProviderUnavailable(
        f"the series {series.series_id} changed again each time calsync read it; its "
        "room answers are tried again later"
    )


def _read(
    provider: Provider, calendar: str, series_id: str, span: Window
) -> tuple[RemoteChange, dict[str, RemoteChange]] | None:
    """The series event, then its instances over `span`, as the calendar holds them now;
    None when the series cannot be seen or gives no version to write on."""
    try:
        master = provider.get(calendar, series_id)
        listed = provider.instances(calendar, series_id, span)
    except ProviderRejected as exc:
        if exc.status in (403, 404, 410):
            return None
        raise
    if master.version is None:
        return None
    return master, {instance.provider_id: instance for instance in listed}


def _unchanged(waiting: list[A], instances: dict[str, RemoteChange], done: Answered[A]) -> list[A]:
    """The answers whose instance is still at the version decided on; the others are
    `changed`."""
    kept = []
    for answer in waiting:
        now_there = instances.get(answer.provider_id)
        if now_there is not None and now_there.version == answer.version:
            kept.append(answer)
        else:
            done.changed.append(answer)
    return kept


def _settle(
    provider: Provider,
    place: Place,
    series: Series[A],
    written: list[A],
    span: Window,
    done: Answered[A],
) -> None:
    """After the series write: the instances showing its answer are answered; one not
    showing it and still at the version decided on (an exception of its own, which the
    series' attendees do not reach) is answered alone; any other changed meanwhile."""
    try:
        after = {
            c.provider_id: c for c in provider.instances(place.calendar, series.series_id, span)
        }
    except ProviderRejected as exc:
        if exc.status not in (403, 404, 410):
            raise
        after = {}
    for answer in written:
        now_there = after.get(answer.provider_id)
        if now_there is not None and _shows(provider, now_there, place, series.partstat):
            done.answered.append(answer)
        elif now_there is not None and now_there.version == answer.version:
            done.alone.append(answer)
        else:
            done.changed.append(answer)


def _shows(provider: Provider, instance: RemoteChange, place: Place, partstat: str) -> bool:
    """Whether the room's answer in the instance is `partstat`."""
    return _room_partstat(provider, instance, place) == partstat


def _invites_room(provider: Provider, series: RemoteChange, place: Place) -> bool:
    return _room_partstat(provider, series, place) is not None


def _room_partstat(provider: Provider, change: RemoteChange, place: Place) -> str | None:
    """The room's PARTSTAT in the object's entry; None where the room is no attendee."""
    entry = _entry(provider, change.data or b"", place.zone)
    room = place.room_address.strip().lower()
    found = [a.partstat for a in entry.attendees if a.address == room] if entry else []
    return found[0] if found else None


def _span(provider: Provider, answers: Sequence[Answer], zone: str) -> Window | None:
    """From the first instance's start to the last one's end, as their answers were
    decided (an instance moved out of it since is changed, whatever it holds now)."""
    entries = [e for a in answers if (e := _entry(provider, a.decided, zone)) is not None]
    if not entries:
        return None
    return Window(min(e.start for e in entries) - _MARGIN, max(e.end for e in entries) + _MARGIN)


def _entry(provider: Provider, data: bytes, zone: str) -> CalendarEntry | None:
    """The instance's entry, read by the adapter's reader; None if it is unreadable."""
    try:
        read = provider.object_reader()(data.decode("utf-8", "replace"), zone, _EVER)
    except InvalidCalendarData:
        return None
    return read.master
