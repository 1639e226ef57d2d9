"""Review: reprocessing an event races the run it starts. Two admins click Reprocess on
the same event in error at once: the first puts it back to `new` and its run claims it;
the second, which read the event while it was still in error, must then leave it alone.
Before: it wrote `new` over the running event and cleared its claim, so the event could
be claimed and sent a second time while the first run was still writing it."""

from __future__ import annotations

import pytest

from calsync.store.records import EventRepository
from calsync.sync import reprocess as reprocess_module
from calsync.worker.runner import lease_of
from tests.api.conftest import fail_event

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def test_a_reprocess_that_read_the_event_in_error_leaves_a_run_that_claimed_it_meanwhile(
    synchronized, monkeypatch
):
    api = synchronized
    services = api.services
    event_id = fail_event(api, "respond", "503 from the calendar")
    real_get = EventRepository.get
    raced = []

    def get_then_the_other_click_wins(self, wanted):
        row = real_get(self, wanted)
        if not raced:  # the other admin's click: reprocess, and its run claims the event
            raced.append(True)
            assert reprocess_module.reprocess(services, wanted)
            with services.uow() as uow:
                uow.events.claim_one(wanted, services.clock(), lease_of(services))
                uow.commit()
        return row

    monkeypatch.setattr(EventRepository, "get", get_then_the_other_click_wins)
    second = reprocess_module.reprocess(services, event_id)
    monkeypatch.setattr(EventRepository, "get", real_get)

    assert not second
    with services.read() as uow:
        event = uow.events.get(event_id)
        assert (event.state, event.claimed_until is not None) == ("processing", True)
