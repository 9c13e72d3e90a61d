"""PageAllocatorService over real gRPC: GFP on the wire, scopes from metadata, /proc views, bad input."""

from __future__ import annotations

import re

import grpc
import pytest

from mmsim.allocator import gfp as G
from mmsim.client import Cluster
from mmsim.runtime.wire import gfp_from_proto, gfp_to_proto
from mmsim.v1 import page_allocator_pb2 as pb


@pytest.fixture()
def mm(stack_settings):
    with Cluster.connect(stack_settings) as cluster:
        yield cluster


def alloc(mm, order, gfp=G.GFP_KERNEL, **kw):
    return mm.call("allocator", "AllocPages", pb.AllocPagesRequest(order=order, gfp=gfp_to_proto(int(gfp)), **kw))


def free(mm, pfn, order):
    return mm.call("allocator", "FreePages", pb.FreePagesRequest(pfn=pfn, order=order))


def buddyinfo(mm) -> str:
    return mm.call("allocator", "BuddyInfo", pb.BuddyInfoRequest()).text


def test_alloc_free_round_trip_restores_buddyinfo(mm):
    before = buddyinfo(mm)
    got = alloc(mm, 3)
    assert got.folio.order == 3 and got.folio.pfn % 8 == 0
    page = mm.call("allocator", "GetPage", pb.GetPageRequest(pfn=got.folio.pfn)).page
    assert page.refcount == 1 and page.mapcount == -1
    free(mm, got.folio.pfn, 3)
    assert buddyinfo(mm) == before


def test_buddyinfo_has_the_kernels_format(mm):
    """mm/vmstat.c frag_show_print: 'Node %d, zone %8s ' then 11 x '%6lu '."""
    lines = buddyinfo(mm).splitlines()
    assert lines
    for line in lines:
        assert re.fullmatch(r"Node \d+, zone [ A-Za-z0-9]{8} ( {0,5}\d{1,6} ){11}", line), line


def test_vmstat_and_meminfo_use_kernel_names(mm):
    vm = mm.call("allocator", "VmStat", pb.VmStatRequest())
    for name in ("nr_free_pages", "pgfree", "pgfault", "pgmajfault", "nr_file_pages"):
        assert name in vm.values or name in vm.text, name
    mi = mm.call("allocator", "MemInfo", pb.MemInfoRequest())
    assert mi.text.startswith("MemTotal:") and "MemFree" in mi.values_kb


def test_page_descriptor_of_a_free_page_names_buddy(mm):
    got = alloc(mm, 0)
    free(mm, got.folio.pfn, 0)
    resp = mm.call("allocator", "GetPage", pb.GetPageRequest(pfn=got.folio.pfn))
    assert "_refcount = 0" in resp.text


def test_compound_allocation_marks_head_and_tails(mm):
    got = alloc(mm, 2, G.GFP_KERNEL | G.GFP["__GFP_COMP"])
    head = mm.call("allocator", "GetPage", pb.GetPageRequest(pfn=got.folio.pfn)).page
    tail = mm.call("allocator", "GetPage", pb.GetPageRequest(pfn=got.folio.pfn + 1)).page
    assert "head" in head.flags and head.order == 2
    assert tail.union_member == "compound_tail" and tail.compound_head == got.folio.pfn
    free(mm, got.folio.pfn, 2)


@pytest.mark.parametrize("order", [11, 64])
def test_order_above_max_page_order_is_invalid(mm, order):
    before = buddyinfo(mm)
    with pytest.raises(grpc.RpcError) as err:
        alloc(mm, order)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "order" in err.value.details()
    assert buddyinfo(mm) == before


def test_bad_frees_are_refused_without_state_change(mm):
    got = alloc(mm, 1)
    before = buddyinfo(mm)
    for pfn, order, code in [(got.folio.pfn, 0, grpc.StatusCode.FAILED_PRECONDITION),       # wrong order
                             (got.folio.pfn + 1, 0, grpc.StatusCode.FAILED_PRECONDITION),   # not a head page
                             (1 << 40, 0, grpc.StatusCode.NOT_FOUND)]:                       # outside memory
        with pytest.raises(grpc.RpcError) as err:
            free(mm, pfn, order)
        assert err.value.code() == code, err.value.details()
    assert buddyinfo(mm) == before
    free(mm, got.folio.pfn, 1)
    with pytest.raises(grpc.RpcError) as err:
        free(mm, got.folio.pfn, 1)   # double free
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "already free" in err.value.details()


def test_unknown_node_is_invalid(mm):
    with pytest.raises(grpc.RpcError) as err:
        alloc(mm, 0, node=7)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_kvmalloc_struct_overflow_names_the_product(mm):
    with pytest.raises(grpc.RpcError) as err:
        mm.call("allocator", "KvmallocStruct", pb.KvmallocStructRequest(header=64, element=1 << 40, count=1 << 40))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "overflow" in err.value.details().lower()


def test_malloc_is_kvmalloc_gfp_kernel_and_free_gives_it_back(mm):
    a = mm.call("allocator", "Malloc", pb.MallocRequest(size=3 * 4096)).allocation
    assert a.kind == "kmalloc" and gfp_from_proto(a.gfp) == int(G.GFP_KERNEL)
    mm.call("allocator", "Free", pb.FreeRequest(addr=a.addr))
    with pytest.raises(grpc.RpcError) as err:
        mm.call("allocator", "Free", pb.FreeRequest(addr=a.addr))
    assert err.value.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)


def test_fragmentation_makes_high_orders_fail_while_order0_succeeds(mm):
    # ZONE_DMA: no page cache lives there (lowmem_reserve keeps DMA32 allocations out while DMA32 has room, and the
    # session stack never fills it), so nothing in it is reclaimable, and the fragmenter's pinned pages are
    # unmovable: no reclaim or compaction can merge a block.
    # The order-4 request has no __GFP_DIRECT_RECLAIM all the same: direct reclaim would evict other tests' cache.
    frag = mm.call("allocator", "Fragment", pb.FragmentRequest(node=0, zone="DMA", max_free_order=0))
    try:
        assert frag.pinned > 0
        small = alloc(mm, 0, G.GFP_KERNEL | G.GFP_DMA | G.GFP["__GFP_NORETRY"])
        with pytest.raises(grpc.RpcError) as err:
            alloc(mm, 4, G.GFP_NOWAIT | G.GFP_DMA)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        free(mm, small.folio.pfn, 0)
    finally:
        mm.call("allocator", "Unfragment", pb.UnfragmentRequest(node=0))
    ok = alloc(mm, 4)
    free(mm, ok.folio.pfn, 4)
