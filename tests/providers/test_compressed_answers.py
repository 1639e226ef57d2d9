"""A compressed answer that expands far past max_answer_bytes (a few hundred bytes on the
wire, hundreds of megabytes inflated) is dropped before it costs the memory: calsync
inflates a bounded piece at a time and reads one layer of gzip or deflate at most.
Measured in a child process: the peak memory of one read of such an answer, with a cap
of 1 MB."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

EXPANDED_MB = 256

CHILD = textwrap.dedent(
    """
    import gzip, json, resource, sys, zlib
    from tests.providers.hostile_server import Answer, HostileServer
    from calsync.providers.caldav import CalDAVProvider
    from calsync.providers.wire import LimitExceeded, Limits

    def gzipped(chunks):
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        return b"".join(packer.compress(c) for c in chunks) + packer.flush()

    megabyte = bytes(1024 * 1024)
    inner = gzipped(megabyte for _ in range(int(sys.argv[1])))
    layers = sys.argv[2]
    body = gzip.compress(inner, 9) if layers == "gzip, gzip" else inner
    del inner, megabyte
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024

    def bomb(seen, server):
        return Answer(207, [body], {"Content-Encoding": layers,
                                    "Content-Type": "application/xml"})

    outcome = "read"
    with HostileServer(bomb) as server, CalDAVProvider(
        server.url, limits=Limits(max_answer_bytes=1024 * 1024)
    ) as provider:
        try:
            provider.fetch_changes("/rooms/a/", None)
        except LimitExceeded as exc:
            outcome = "LimitExceeded"
        except Exception as exc:
            outcome = type(exc).__name__
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"wire_bytes": len(body), "outcome": outcome, "grew_mb": after - before}))
    """
)


@pytest.mark.parametrize(
    ("layers", "outcome"),
    [("gzip", "LimitExceeded"), ("gzip, gzip", "ProviderUnavailable")],
)
def test_a_compressed_answer_is_dropped_before_it_expands_far_past_the_cap(layers, outcome):
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(EXPANDED_MB), layers],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])

    assert measured["wire_bytes"] < 1024 * 1024, measured
    assert measured["outcome"] == outcome, measured
    assert measured["grew_mb"] < 16, f"reading a capped 1 MB answer took {measured}"
