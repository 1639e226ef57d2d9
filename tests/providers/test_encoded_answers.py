"""Answers whose Content-Encoding says one thing and whose body is another, from a hostile
server on 127.0.0.1: read as a client library reads them, or refused as a calsync error
naming the request, never an untyped decompression error."""

from __future__ import annotations

import zlib

import pytest

from calsync.errors import ProviderUnavailable
from calsync.providers.caldav import CalDAVProvider
from calsync.providers.wire import Call, Limits, Wire
from calsync.store.records import RecordFilter
from calsync.worker.runner import request_sync, run_once
from tests.providers import hostile_server as hostile
from tests.providers.hostile_server import HostileServer
from tests.providers.test_hostile_server import hostile_services  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(60)
CALENDAR = "/rooms/a/"
LISTING = hostile.multistatus(hostile.member(f"{CALENDAR}m1.ics"), token="t1")
XML = {"Content-Type": "application/xml"}


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def test_a_listing_in_raw_deflate_is_read_as_deflate():
    # RFC 9110 says zlib-wrapped, but servers sending bare deflate streams are common
    # enough that HTTP clients (httpx among them) read both.
    for body in (_raw_deflate(LISTING), zlib.compress(LISTING)):
        behaviour = hostile.fixed(207, body, {**XML, "Content-Encoding": "deflate"})
        with HostileServer(behaviour) as server:
            wire = Wire(server.url, None, 10.0, Limits())
            answer = wire.send(Call(), "REPORT", f"{server.url}{CALENDAR}", b"<sync/>")
            wire.close()
        assert answer.content == LISTING


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_an_answer_announced_compressed_but_sent_plain_is_a_calsync_error(coding):
    behaviour = hostile.fixed(207, LISTING, {**XML, "Content-Encoding": coding})
    with HostileServer(behaviour) as server, CalDAVProvider(server.url) as provider:
        try:
            provider.fetch_changes(CALENDAR, None)
            raised: Exception | None = None
        except Exception as exc:  # noqa: BLE001 - the point is which type escapes
            raised = exc
    assert isinstance(raised, ProviderUnavailable), (
        f"a mislabelled answer escaped as {type(raised).__module__}.{raised!r}"
    )
    assert "REPORT" in str(raised)


def test_a_worker_reading_a_mislabelled_answer_records_a_failed_read_and_goes_on(
    hostile_services,  # noqa: F811 - the fixture imported above
):
    behaviour = hostile.fixed(207, LISTING, {**XML, "Content-Encoding": "gzip"})
    with HostileServer(behaviour) as server:
        services = hostile_services(server.url)
        request_sync(services, "Room A")
        try:
            run_once(services)
            raised: Exception | None = None
        except Exception as exc:  # noqa: BLE001 - the point is that nothing escapes
            raised = exc
    assert raised is None, f"the worker's run ended with {raised!r}"
    with services.uow() as uow:
        [read] = uow.events.find(RecordFilter(action="read"))
    assert read.error, "the failed read was not recorded"
