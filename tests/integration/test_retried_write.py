"""A write(2) whose first attempt died half-way is retried with the same request id and writes every page once.

The first attempt inserts the folio of page 0, then its page cache is killed: the next WriteFolio fails, the
Write answers UNAVAILABLE and its request id is released. The retry (same id, as the client's gRPC retry
sends it) finds page 0's folio and writes into it, then allocates for page 1. Its peers' request ids must not
hand it the answers the first attempt got at the same place: with positional ids AllocPages answered with page
0's folio and AddFolio with the first attempt's "inserted", so page 1 was never cached and its bytes were lost
with an OK (the chaos test's lost bytes). The window is held open by a pause point
(MMSIM_FAULT_INJECT=pause:write:folio, after each new folio), not by a timing.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

import crash
from mmsim import stack
from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import idempotency
from mmsim.v1 import filesystem_pb2
from pause import Pause, paused_stack

POINT = "write:folio"


@pytest.fixture(scope="module")
def paused(private_stack):
    with paused_stack(private_stack, "retried-write", POINT) as settings:
        yield settings


def test_a_write_retried_after_its_page_cache_died_writes_every_page_once(paused):
    pause = Pause(paused, POINT)
    data = b"".join(bytes([i + 1]) * PAGE_SIZE for i in range(3))
    with Cluster.connect(paused) as mm:
        fs = mm.mkfs("retried", max_folio_order=0)          # one folio per page
        f = fs.create("/f")
        _, traceparent = new_traceparent()
        metadata = [("traceparent", traceparent), (idempotency.METADATA_KEY, uuid.uuid4().hex)]
        req = filesystem_pb2.WriteRequest(mapping=f.mapping, offset=0, data=data)
        write = mm.stubs["filesystem"].Write
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(write, req, timeout=120, metadata=metadata)
            assert pause.reached(), "the write never inserted its first folio"
            crash.kill9(paused, "pagecache")
            pause.resume()                                       # on to page 1: its WriteFolio finds no page cache
            with pytest.raises(grpc.RpcError) as err:
                first.result(timeout=120)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        stack.up(paused, timeout=120, tied=False)               # the page cache is back
        pause.resume(8)
        assert f.find_folio(0).found                            # the first attempt's folio
        assert write(req, timeout=120, metadata=metadata).written == len(data)   # the retry, same request id
        assert f.read(0, len(data)) == data
        pfns = [f.find_folio(i).folio.pfn for i in range(3)]
        assert len(set(pfns)) == 3, pfns                        # three folios, no page cached twice
        report = mm.check()
        assert [v.to_dict() for v in report.violations] == []
        f.unlink()

