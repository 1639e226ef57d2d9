"""`events reprocess` of a create whose reservation was cancelled meanwhile books
nothing: run late, a create or an update of a cancelled reservation is superseded."""

from __future__ import annotations

import pytest

from calsync.errors import ProviderRejected
from calsync.store.records import RecordFilter
from calsync.sync import reservations as reservation_service
from calsync.sync.reprocess import reprocess_failed
from calsync.worker.runner import run_now
from tests.sync.calendars import drain, reserve, room_settings, sync

pytestmark = pytest.mark.radicale


def test_reprocessing_the_failed_create_of_a_cancelled_reservation_books_nothing(
    make_services, room_calendar, monkeypatch
):
    services = make_services(room_settings(room_calendar))
    sync(services)
    provider = services.provider("dav")
    real_create = type(provider).create

    def refused(self, *args, **kwargs):
        raise ProviderRejected("creating: the server answered 403", 403)

    monkeypatch.setattr(type(provider), "create", refused)
    booked = reserve(services, "Board meeting")
    drain(services)
    monkeypatch.setattr(type(provider), "create", real_create)
    reservation_service.cancel(services, booked.id)
    drain(services)

    for event_id in reprocess_failed(services, RecordFilter()):
        run_now(services, event_id)

    in_calendar = [c for c in provider.fetch_changes(room_calendar, None).changes if c.data]
    assert [c.data.decode() for c in in_calendar if b"Board meeting" in c.data] == []
