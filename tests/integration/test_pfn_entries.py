"""PFN entries (LSFMM 2018): two reflinked files share one physical folio in their page caches.

The folio's struct page then has no single ->mapping (a share count instead, as fs/dax.c keeps for a
shared DAX folio); a write through either file first copies the folio for that file alone.
"""

from __future__ import annotations

import grpc
import pytest

from mmsim.client import PAGE_SIZE, Cluster
from mmsim.v1 import page_allocator_pb2, reverse_map_pb2

SIZE = 16 * PAGE_SIZE
DATA = bytes(range(256)) * (SIZE // 256)


def page(mm, pfn):
    return mm.call("allocator", "GetPage", page_allocator_pb2.GetPageRequest(pfn=pfn)).page



@pytest.fixture()
def mm(stack_settings):
    with Cluster.connect(stack_settings) as cluster:
        yield cluster


def test_reflinked_files_share_folios_and_writes_unshare(mm):
    free_before = mm.vmstat()["nr_free_pages"]
    fs = mm.mkfs("pfnfs", block_size=4096, profile="lsfmm2018")
    a, b = fs.create("/a"), fs.create("/b")
    a.write(0, DATA)
    a.fsync()                                    # clean folios: only those can be shared
    resp = a.reflink(b, share_folios=True)
    assert resp.blocks_shared == 16 and resp.pages_shared == 16

    proc = mm.spawn("pfn")
    va, vb = proc.mmap(a, SIZE, prot="rw"), proc.mmap(b, SIZE, prot="rw")
    fa, fb = proc.fault(va.start), proc.fault(vb.start)
    assert fa.pfn == fb.pfn and not fb.major     # one physical page, found in b's cache: a minor fault
    shared = page(mm, fa.folio_pfn)
    assert shared.union_member == "page_cache_shared"
    assert proc.read(vb.start, 64) == DATA[:64]

    b.write(0, b"B" * 10)                        # write(2) to b: b gets a private copy first
    assert a.read(0, 16) == DATA[:16]
    assert b.read(0, 16) == b"B" * 10 + DATA[10:16]
    assert proc.read(vb.start, 16) == b"B" * 10 + DATA[10:16]
    assert proc.read(va.start, 16) == DATA[:16]
    assert proc.fault(vb.start).pfn != fa.pfn

    # a store through a's mapping (a write fault on a shared mapping) unshares a's page too
    mm.call("rmap", "WriteMemory", reverse_map_pb2.WriteMemoryRequest(pid=proc.pid, address=va.start + 5 * PAGE_SIZE,
                                                                      data=b"W"))
    assert a.read(5 * PAGE_SIZE, 2) == b"W" + DATA[5 * PAGE_SIZE + 1:5 * PAGE_SIZE + 2]
    assert b.read(5 * PAGE_SIZE, 2) == DATA[5 * PAGE_SIZE:5 * PAGE_SIZE + 2]

    # a store to a page already mapped read-only from a shared folio (wp_page_shared) copies it too
    c, d = fs.create("/c"), fs.create("/d")
    c.write(0, DATA)
    c.fsync()
    c.reflink(d, share_folios=True)
    vc, vd = proc.mmap(c, SIZE, prot="rw"), proc.mmap(d, SIZE, prot="rw")
    assert proc.fault(vc.start).pfn == proc.fault(vd.start).pfn      # both PTEs read-only on one folio
    mm.call("rmap", "WriteMemory", reverse_map_pb2.WriteMemoryRequest(pid=proc.pid, address=vc.start, data=b"X"))
    assert c.read(0, 2) == b"X" + DATA[1:2]
    assert d.read(0, 2) == DATA[:2] and proc.read(vd.start, 2) == DATA[:2]
    assert proc.fault(vc.start).pfn != proc.fault(vd.start).pfn

    mm.call("rmap", "Exit", reverse_map_pb2.ExitRequest(pid=proc.pid))
    for f in (a, b, c, d):
        f.truncate(0)
    assert mm.vmstat()["nr_free_pages"] == free_before      # every shared, copied and private folio went back


def test_without_pfn_entries_sharing_is_refused_with_the_reason(mm):
    fs = mm.mkfs("nopfn", block_size=4096, profile="linux-6.12")
    a, b = fs.create("/a"), fs.create("/b")
    a.write(0, DATA)
    with pytest.raises(grpc.RpcError) as err:
        a.reflink(b, share_folios=True)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "one mapping and one index" in err.value.details()
    assert a.reflink(b).blocks_shared == 16      # a plain reflink still works
