"""Buddy allocator over a real redis-server: split/merge, watermarks, GFP effects, bad input."""

from __future__ import annotations

import pytest

from mmsim.allocator import gfp as G
from mmsim.allocator import procfs
from mmsim.allocator.buddy import BuddyAllocator
from mmsim.allocator.zones import Layout
from mmsim.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

ZERO = G.GFP["__GFP_ZERO"]
COMP = G.GFP["__GFP_COMP"]
NOWARN = G.GFP["__GFP_NOWARN"]
NORETRY = G.GFP["__GFP_NORETRY"]
NOFAIL = G.GFP["__GFP_NOFAIL"]
MEMALLOC = G.GFP["__GFP_MEMALLOC"]


@pytest.fixture()
async def buddy(aredis):
    b = BuddyAllocator(aredis, Layout.build(16 << 20, 1))  # DMA only: 4096 pages = 4 order-10 blocks
    await b.init_memory()
    return b


@pytest.fixture()
async def big(aredis):
    b = BuddyAllocator(aredis, Layout.build(64 << 20, 1))  # DMA + DMA32
    await b.init_memory()
    return b


async def snapshot(aredis):
    out = {}
    for k in sorted(await aredis.keys("*")):
        t = await aredis.type(k)
        if t == b"string":
            out[k] = await aredis.get(k)
        elif t == b"hash":
            out[k] = await aredis.hgetall(k)
        elif t == b"zset":
            out[k] = await aredis.zrange(k, 0, -1, withscores=True)
        elif t == b"set":
            out[k] = await aredis.smembers(k)
    return out


async def test_init_is_idempotent_and_builds_max_order_blocks(buddy, aredis):
    before = await snapshot(aredis)
    assert await buddy.init_memory() is False
    assert await snapshot(aredis) == before
    blocks = await buddy.free_blocks(0, "DMA")
    assert blocks[10] == {0, 1024, 2048, 3072}
    assert all(not blocks[o] for o in range(10))


async def test_init_with_other_layout_refuses(buddy, aredis):
    other = BuddyAllocator(aredis, Layout.build(32 << 20, 1))
    with pytest.raises(FailedPrecondition, match="different memory layout"):
        await other.init_memory()


async def test_split_puts_upper_halves_on_lower_lists(buddy):
    a = await buddy.alloc_pages(0, G.GFP_KERNEL)
    assert a.pfn == 0
    blocks = await buddy.free_blocks(0, "DMA")
    # expand: 1024 -> 512 at 512, 256 at 256, ... 1 at 1
    for o in range(10):
        assert blocks[o] == {1 << o}
    assert blocks[10] == {1024, 2048, 3072}


async def test_find_buddy_example_order1_buddy_of_8_is_10(buddy):
    allocs = [await buddy.alloc_pages(1, G.GFP_KERNEL) for _ in range(8)]
    pfns = [a.pfn for a in allocs]
    assert 8 in pfns and 10 in pfns
    await buddy.free_pages(8, 1)
    blocks = await buddy.free_blocks(0, "DMA")
    assert 8 in blocks[1]
    r = await buddy.free_pages(10, 1)
    assert (r.merged_pfn, r.merged_order) == (8, 2)  # combined_pfn = 8 & 10
    for a in allocs:
        if a.pfn not in (8, 10):
            await buddy.free_pages(a.pfn, 1)
    blocks = await buddy.free_blocks(0, "DMA")
    assert blocks[10] == {0, 1024, 2048, 3072}


async def test_everything_merges_back(buddy):
    got = [await buddy.alloc_pages(o % 4, G.GFP_KERNEL) for o in range(40)]
    for a in reversed(got[::2]):
        await buddy.free_pages(a.pfn, a.order)
    for a in got[1::2]:
        await buddy.free_pages(a.pfn, a.order)
    blocks = await buddy.free_blocks(0, "DMA")
    assert blocks[10] == {0, 1024, 2048, 3072}
    z = (await buddy.zone_counters())[0]
    assert z["nr_free_pages"] == 4096
    assert [z[f"nr_free:{o}"] for o in range(11)] == [0] * 10 + [4]


async def test_compound_page_head_and_tails(buddy):
    a = await buddy.alloc_pages(3, G.GFP_KERNEL | COMP)
    head = await buddy.get_page(a.pfn)
    assert "head" in head.flag_names and head.refcount == 1 and head.folio_order == 3
    tail = await buddy.get_page(a.pfn + 5)
    assert tail.member == "compound_tail" and tail.words[0] == a.pfn * 2 + 1 and tail.folio_order == 3
    first = await buddy.get_page(a.pfn + 1)
    assert first.fields["compound_order"] == 3
    with pytest.raises(FailedPrecondition, match="not a head page"):
        await buddy.free_pages(a.pfn + 5, 3)
    await buddy.free_pages(a.pfn, 3)
    t = await buddy.get_page(a.pfn + 5)
    assert t.words == (0, 0, 0, 0, 0) and t.refcount == 0


async def test_free_page_is_buddy(buddy):
    d = await buddy.get_page(1024)
    assert d.page_type == "buddy" and d.member == "buddy" and d.words[4] == 10
    assert d.mapcount & 0xFFFFFFFF == 0xFFFFFF7F


async def test_gfp_zero_marks_and_deletes_data(buddy, aredis):
    await aredis.set("mmsim:{node:0}:mem:0", b"stale")
    a = await buddy.alloc_pages(0, G.GFP_KERNEL | ZERO)
    assert a.pfn == 0
    assert await aredis.exists("mmsim:{node:0}:mem:0") == 0
    assert "zeroed(mmsim)" in (await buddy.get_page(0)).flag_names


async def test_bad_input_changes_nothing(buddy, aredis):
    a = await buddy.alloc_pages(2, G.GFP_KERNEL)
    before = await snapshot(aredis)
    cases = [
        (buddy.alloc_pages(-1), InvalidArgument, "order -1"),
        (buddy.alloc_pages(11), InvalidArgument, "MAX_PAGE_ORDER"),
        (buddy.free_pages(5000, 0), NotFound, "outside memory"),
        (buddy.free_pages(1024, 10), FailedPrecondition, "already free"),
        (buddy.free_pages(1030, 0), FailedPrecondition, "already free"),
        (buddy.free_pages(a.pfn, 1), FailedPrecondition, "wrong order"),
        (buddy.free_pages(a.pfn + 1, 0), FailedPrecondition, "not a head page"),
        (buddy.free_pages(a.pfn, 11), InvalidArgument, "order 11"),
        (buddy.alloc_pages(0, count=5000), InvalidArgument, "all of memory"),
    ]
    for coro, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            await coro
        assert await snapshot(aredis) == before, msg


async def test_bad_page_reasons(buddy, aredis):
    from mmsim.allocator.allocator import AllocatorService

    svc = AllocatorService(aredis, buddy.layout)
    a = await buddy.alloc_pages(0)
    await svc.page_ref_add(a.pfn, 1)
    with pytest.raises(FailedPrecondition, match="nonzero _refcount"):
        await buddy.free_pages(a.pfn, 0)
    await svc.page_ref_add(a.pfn, -1)
    await svc.page_mapcount_add(a.pfn, 1)
    with pytest.raises(FailedPrecondition, match="nonzero mapcount"):
        await buddy.free_pages(a.pfn, 0)
    await svc.page_mapcount_add(a.pfn, -1)
    await buddy.free_pages(a.pfn, 0)


async def test_watermarks_atomic_dips_below_min_kernel_does_not(buddy):
    z = (await buddy.zone_counters())[0]
    mn = z["min"]
    # take pages with GFP_KERNEL until the watermark refuses
    got = []
    with pytest.raises(ResourceExhausted, match=r"page allocation failure: order:0, mode:0x10cc0\(GFP_KERNEL\|__GFP_NORETRY\)"):
        while True:
            got.append(await buddy.alloc_pages(0, G.GFP_KERNEL | NORETRY))
    free = (await buddy.zone_counters())[0]["nr_free_pages"]
    assert free == mn  # the check is free_pages <= min: the last success saw min + 1
    # GFP_ATOMIC: ALLOC_MIN_RESERVE (min/2) and ALLOC_NON_BLOCK (another quarter)
    a = await buddy.alloc_pages(0, G.GFP_ATOMIC)
    assert a.alloc_flags & G.ALLOC_MIN_RESERVE and a.alloc_flags & G.ALLOC_NON_BLOCK
    # GFP_NOWAIT is non-blocking but has no min reserve
    with pytest.raises(ResourceExhausted):
        await buddy.alloc_pages(0, G.GFP_NOWAIT)
    ev = await buddy.vmstat_events()
    assert ev["allocstall_dma"] >= 1  # GFP_KERNEL|NORETRY did one simulated reclaim
    assert ev["mmsim_alloc_fail_order_0"] == 2


async def test_order_watermark_needs_a_large_enough_block(buddy):
    from mmsim.allocator.fragment import fragment, unfragment

    r = await fragment(buddy, 0)
    assert r["pinned"] == 2048
    a = await buddy.alloc_pages(0, G.GFP_KERNEL)
    with pytest.raises(ResourceExhausted, match="no free block of order >= 1"):
        await buddy.alloc_pages(1, G.GFP_KERNEL | NOWARN)
    z = (await buddy.zone_counters())[0]
    assert procfs.fragmentation_index(z, 1) == 500  # 1000 - (1000 + 2047 * 1000 // 2) // 2047
    assert procfs.fragmentation_index(z, 4) > 900
    assert procfs.format_fragindex(procfs.fragmentation_index(z, 1)) == "0.500"
    await buddy.free_pages(a.pfn, 0)
    assert await unfragment(buddy, 0) == 2048
    assert (await buddy.free_blocks(0, "DMA"))[10] == {0, 1024, 2048, 3072}


async def test_nowarn_silences_the_report(buddy, caplog):
    import structlog

    with structlog.testing.capture_logs() as logs:
        with pytest.raises(ResourceExhausted):
            await buddy.alloc_pages(10, G.GFP_ATOMIC | NOWARN, count=4)
        with pytest.raises(ResourceExhausted):
            await buddy.alloc_pages(10, G.GFP_ATOMIC, count=4)
    msgs = [e["event"] for e in logs]
    assert len(msgs) == 1 and "page allocation failure: order:10, mode:0x820(GFP_ATOMIC)" in msgs[0]


async def test_nofail_retries_then_gives_up(buddy):
    buddy.nofail_retries = 2
    # the retries use ALLOC_MIN_RESERVE: the min watermark (128) is halved to 64
    with pytest.raises(ResourceExhausted, match=r"min 64 .*__GFP_NOFAIL gave up after 16 retries"):
        await buddy.alloc_pages(0, G.GFP_KERNEL | NOFAIL, count=4096)
    with pytest.raises(ResourceExhausted, match="gave up after 2 retries"):
        await buddy.alloc_pages(0, G.GFP_NOWAIT | NOFAIL, count=4096)


async def test_bulk_failure_rolls_back(buddy):
    before = await buddy.free_blocks(0, "DMA")
    with pytest.raises(ResourceExhausted):
        await buddy.alloc_pages(0, G.GFP_KERNEL | NORETRY | NOWARN, count=4096)
    assert await buddy.free_blocks(0, "DMA") == before


async def test_zonelist_falls_back_from_dma32_to_dma(big):
    first = await big.alloc_pages(0, G.GFP_KERNEL)
    assert first.zone == "DMA32"
    d = await big.alloc_pages(0, G.GFP_DMA)
    assert d.zone == "DMA"
    ev = await big.vmstat_events()
    assert ev["pgalloc_dma32"] == 1 and ev["pgalloc_dma"] == 1


async def test_memalloc_scope_strips_fs_io(buddy):
    a = await buddy.alloc_pages(0, G.GFP_KERNEL, scope=G.PF_MEMALLOC_NOFS)
    assert a.gfp == int(G.GFP_NOFS) and a.gfp_requested == int(G.GFP_KERNEL)
    b = await buddy.alloc_pages(0, G.GFP_KERNEL, scope=G.PF_MEMALLOC_NOFS | G.PF_MEMALLOC_NOIO)
    assert b.gfp == int(G.GFP_NOIO)


async def test_migratetype_fallback_claims_pageblock(buddy):
    a = await buddy.alloc_pages(0, G.GFP_KERNEL)  # unmovable: claims a MOVABLE order-10 block
    rows = await buddy.free_list_counts()
    unmov = next(r for r in rows if r["migratetype"] == G.MIGRATE_UNMOVABLE)
    assert unmov["counts"][:10] == [1] * 10
    m = await buddy.alloc_pages(0, G.GFP_HIGHUSER_MOVABLE)
    assert m.pfn == 1024  # movable comes from a movable block
    await buddy.free_pages(a.pfn, 0)
    await buddy.free_pages(m.pfn, 0)
    assert (await buddy.free_blocks(0, "DMA"))[10] == {0, 1024, 2048, 3072}


async def test_two_nodes(aredis):
    b = BuddyAllocator(aredis, Layout.build(64 << 20, 2))
    await b.init_memory()
    a = await b.alloc_pages(0, G.GFP_KERNEL, nid=1)
    assert a.nid == 1 and a.pfn >= 8192
    await b.free_pages(a.pfn, 0)
