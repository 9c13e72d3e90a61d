"""Scoped allocation replacing GFP_NOFS (and __GFP_NOLOCKDEP), as a user can watch it in the traces.

The filesystem allocates while holding its inode lock. With the scoped API (memalloc_nofs_save) the
allocator strips __GFP_FS and lockdep's fs_reclaim check has nothing to report; with GFP_NOFS masks the
same; with plain GFP_KERNEL under the lock the allocator reports the reclaim recursion, unless the mask
carries __GFP_NOLOCKDEP.
"""

from __future__ import annotations

import asyncio

import pytest

from mmsim.allocator import gfp as G
from mmsim.client import PAGE_SIZE, Cluster, new_traceparent
from mmsim.runtime import locks, redis_client, scope
from mmsim.runtime.wire import gfp_to_proto
from mmsim.v1 import page_allocator_pb2


def under_real_lock(settings, body, mapping="demo/1"):
    """Run ``body(metadata)`` while i_rwsem of ``mapping`` is held for real in the stack's Redis; the
    metadata names that grant as a caller holding it would send it."""
    async def run():
        redis = redis_client.connect(settings.redis_url)
        try:
            async with locks.Locks(redis, 60000, 10).hold(locks.I_RWSEM, mapping, locks.WRITE) as grant:
                await asyncio.to_thread(body, (scope.HELD_LOCKS_KEY, grant.lock.encode()))
        finally:
            await redis.aclose()
    asyncio.run(run())


def lockdep_reports(mm) -> int:
    return mm.call("allocator", "VmStat", page_allocator_pb2.VmStatRequest()).values.get("mmsim_lockdep_fs_reclaim", 0)


@pytest.fixture()
def mm(stack_settings):
    with Cluster.connect(stack_settings) as cluster:
        yield cluster


@pytest.mark.parametrize("context, reported", [("scope", False), ("gfp_nofs", False), ("none", True)])
def test_populate_under_the_inode_lock(mm, context, reported):
    fs = mm.mkfs(f"ctx-{context.replace('_', '')}", block_size=4096, alloc_context=context)
    f = fs.create("/f")
    f.write(0, b"x" * PAGE_SIZE * 4)
    f.fsync()
    f.fadvise_dontneed()
    before = lockdep_reports(mm)
    proc = mm.spawn("ctx")
    vma = proc.mmap(f, 4 * PAGE_SIZE)
    fault = proc.fault(vma.start)
    assert fault.major
    alloc = mm.trace(fault.trace_id).find("PageAllocatorService/AllocPages")[0]
    assert ("lockdep" in alloc.attributes) == reported
    assert (lockdep_reports(mm) == before + 1) == reported
    effective = alloc.attributes["out.effective_gfp"]
    assert ("GFP_KERNEL" in effective or "__GFP_FS" in effective or "GFP_HIGHUSER" in effective) == (context == "none")
    assert (alloc.attributes.get("memalloc_scope") == "nofs") == (context == "scope")


def test_nolockdep_silences_the_report(mm, stack_settings):
    under_real_lock(stack_settings, lambda held: _nolockdep(mm, held))


def test_a_claimed_lock_that_no_grant_backs_is_not_believed(mm):
    forged = (scope.HELD_LOCKS_KEY, f"{locks.I_RWSEM} demo/2 w:99")   # metadata only: nothing in Redis
    trace_id, traceparent = new_traceparent()
    got = mm.stubs["allocator"].AllocPages(page_allocator_pb2.AllocPagesRequest(order=0, gfp=gfp_to_proto(int(G.GFP_KERNEL))),
                                           metadata=[("traceparent", traceparent), forged])
    mm.call("allocator", "FreePages", page_allocator_pb2.FreePagesRequest(pfn=got.folio.pfn, order=0))
    assert "lockdep" not in mm.trace(trace_id).find("PageAllocatorService/AllocPages")[0].attributes


def _nolockdep(mm, lock):
    def alloc(gfp):
        trace_id, traceparent = new_traceparent()
        got = mm.stubs["allocator"].AllocPages(page_allocator_pb2.AllocPagesRequest(order=0, gfp=gfp_to_proto(int(gfp))),
                                               metadata=[("traceparent", traceparent), lock])
        mm.call("allocator", "FreePages", page_allocator_pb2.FreePagesRequest(pfn=got.folio.pfn, order=0))
        return mm.trace(trace_id).find("PageAllocatorService/AllocPages")[0].attributes

    assert "possible circular locking dependency" in alloc(G.GFP_KERNEL)["lockdep"]
    silenced = alloc(int(G.GFP_KERNEL) | int(G.__GFP_NOLOCKDEP))
    assert silenced["lockdep"] == "not annotated: __GFP_NOLOCKDEP"
    assert "lockdep" not in alloc(G.GFP_NOFS)
