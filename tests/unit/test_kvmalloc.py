"""kvmalloc family: profiles, fallback under fragmentation, overflow, kvfree."""

from __future__ import annotations

import pytest

from mmsim.allocator import gfp as G
from mmsim.allocator.allocator import AllocatorService
from mmsim.allocator.kvmalloc import PAGE_OFFSET, SIZE_MAX, VMALLOC_START, get_order, is_vmalloc_addr, struct_size
from mmsim.allocator.zones import Layout
from mmsim.runtime.errors import InvalidArgument, ResourceExhausted


@pytest.fixture()
async def svc(aredis):
    s = AllocatorService(aredis, Layout.build(16 << 20, 1), profile="lsfmm2018")
    await s.buddy.init_memory()
    return s


def test_helpers():
    assert get_order(1) == 0 and get_order(4096) == 0 and get_order(4097) == 1 and get_order(2 << 20) == 9
    assert struct_size(16, 8, 10) == 96
    assert struct_size(16, 1 << 40, 1 << 40) == SIZE_MAX


async def test_kmalloc_is_contiguous_compound(svc):
    a = await svc.kmalloc(10000)
    assert a.kind == "kmalloc" and a.order == 2 and a.addr == PAGE_OFFSET + (a.pfns[0] << 12)
    assert (await svc.get_page(a.pfns[0] + 1)).member == "compound_tail"
    await svc.kvfree(a.addr)
    assert (await svc.buddy.free_blocks(0, "DMA"))[10] == {0, 1024, 2048, 3072}


async def test_kvmalloc_profiles_adjust_the_contiguous_attempt(svc, aredis):
    a = await svc.kvmalloc(3 * 4096)
    assert a.kind == "kmalloc"
    assert a.kmalloc_gfp == int(G.GFP_KERNEL) | int(G.GFP["__GFP_NOWARN"]) | int(G.GFP["__GFP_NORETRY"])
    new = AllocatorService(aredis, svc.layout, profile="linux-7.3")
    k = new.kv.kmalloc_gfp_adjust(G.GFP_KERNEL | G.GFP["__GFP_NOFAIL"], 8192)
    assert k == (int(G.GFP_KERNEL) | int(G.GFP["__GFP_NOWARN"])) & ~int(G.GFP["__GFP_DIRECT_RECLAIM"])
    assert new.kv.kmalloc_gfp_adjust(G.GFP_KERNEL | G.GFP["__GFP_RETRY_MAYFAIL"], 8192) & G.GFP["__GFP_DIRECT_RECLAIM"]
    assert new.kv.kmalloc_gfp_adjust(G.GFP_KERNEL, 4096) == int(G.GFP_KERNEL)
    await svc.kvfree(a.addr)


async def test_kvmalloc_falls_back_to_vmalloc_under_fragmentation(svc):
    await svc.fragment(0)
    a = await svc.kvmalloc(64 * 1024)  # order 4: no contiguous block exists
    assert a.kind == "vmalloc" and is_vmalloc_addr(a.addr) and len(a.pfns) == 16
    assert "no free block of order >= 4" in a.fallback_reason
    assert (await svc.meminfo())["VmallocUsed"] == 16
    m = await svc.malloc(100)  # sub-page: kmalloc of one page still works
    assert m.kind == "kmalloc"
    await svc.free(m.addr)
    await svc.kvfree(a.addr)
    assert (await svc.meminfo())["VmallocUsed"] == 0
    await svc.unfragment(0)
    assert (await svc.buddy.free_blocks(0, "DMA"))[10] == {0, 1024, 2048, 3072}


async def test_lsfmm2018_nofs_mask_gets_no_vmalloc_fallback(svc):
    await svc.fragment(0)
    with pytest.raises(ResourceExhausted):
        await svc.kvmalloc(64 * 1024, G.GFP_NOFS | G.GFP["__GFP_NOWARN"])
    await svc.unfragment(0)


async def test_overflow_and_limits(svc, aredis):
    before = await aredis.hgetall("mmsim:{node:0}:zone:DMA")
    with pytest.raises(InvalidArgument, match=r"n \* size = 4294967296 \* 4294967296 overflows size_t.*SIZE_MAX"):
        await svc.kvmalloc_array(1 << 32, 1 << 32)
    with pytest.raises(InvalidArgument, match="struct_size = 16 \\+ 8 \\* 2305843009213693952 overflows"):
        await svc.kvmalloc_struct(16, 8, 1 << 61)
    with pytest.raises(ResourceExhausted, match="INT_MAX"):
        await svc.kvmalloc(1 << 31)
    with pytest.raises(ResourceExhausted, match="exceeds all of memory"):
        await svc.vmalloc(32 << 20)
    with pytest.raises(InvalidArgument):
        await svc.kvmalloc(-1)
    assert await aredis.hgetall("mmsim:{node:0}:zone:DMA") == before
    s = await svc.kvmalloc_struct(64, 16, 1000)  # 16064 bytes -> order 2
    assert s.size == 16064 and s.order == 2
    await svc.kvfree(s.addr)


async def test_kvfree_bad_addresses(svc):
    await svc.kvfree(0)
    await svc.kvfree(16)  # ZERO_SIZE_PTR
    with pytest.raises(InvalidArgument):
        await svc.kvfree(0x1234)
    with pytest.raises(Exception, match="vmalloc area"):
        await svc.kvfree(VMALLOC_START + (5 << 12))
    a = await svc.kvmalloc(100)
    await svc.kvfree(a.addr)
    with pytest.raises(Exception, match="already free"):
        await svc.kvfree(a.addr)
