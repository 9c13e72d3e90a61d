"""The page cache's folio split (huge_memory.lua) against a real redis-server, no gRPC: the XArray ends in the
shape the kernel's xas_split / xas_try_split would leave, struct pages are re-headed, and a split the kernel
refuses (an extra reference) is refused."""

from __future__ import annotations

import pytest

from mmsim.allocator.allocator import AllocatorService
from mmsim.pagecache.filemap import Folio, PageCache
from mmsim.runtime import config, keys


async def _setup(aredis, chunk_shift, mapping, profile=""):
    settings = config.Settings(memory_bytes=64 << 20, xa_chunk_shift=chunk_shift)
    await aredis.hset(keys.mapping(mapping, "inode"), mapping={"i_size": 1 << 30, "profile": profile})
    return PageCache(aredis, settings), await AllocatorService.open(aredis, settings)


async def _folio(svc, order) -> Folio:
    got = await svc.alloc_pages(order, "GFP_HIGHUSER_MOVABLE|__GFP_COMP")
    return Folio(got.nid, got.pfn, got.order)


async def _shape(pc, mapping) -> tuple[int, int, int]:
    st = await pc.stats(mapping)
    return st["nodes"], st["height"], st["folio_entries"]


@pytest.mark.parametrize("chunk_shift, order", [(2, 5), (2, 9), (3, 9), (6, 9)])
async def test_a_uniform_split_gives_every_slot_below_the_entry_its_nodes(aredis, chunk_shift, order):
    """split_folio to order 0 of an order-N folio: xas_split (one level per step where the chunk is small)
    allocates, on each level below the entry, one node per 2**((level + 1) * chunk_shift) pages of it, and --
    like the kernel, which does not shrink on a split -- keeps the root the order-N entry needed."""
    pc, svc = await _setup(aredis, chunk_shift, "t/split")
    big = await _folio(svc, order)
    await pc.add_folio("t/split", 0, big)
    nodes, height, _ = await _shape(pc, "t/split")
    nr = 1 << order
    res = await pc.truncate_range("t/split", (nr - 1) * 4096 + 1, None)   # cut inside the last page: nothing goes
    assert (res.folios_split, res.folios_removed) == (1, 0)
    new_nodes = sum(nr >> ((level + 1) * chunk_shift) for level in range(order // chunk_shift))
    assert await _shape(pc, "t/split") == (nodes + new_nodes, height, nr)
    for i in (0, 1, nr - 1):
        found = await pc.find_folio("t/split", i)
        assert found.folio == Folio(big.node, big.pfn + i, 0) and found.index == i
        page = await svc.get_page(big.pfn + i)
        assert page.refcount == 1 and "head" not in page.flag_names and page.fields["index"] == i


async def test_a_non_uniform_split_leaves_the_kernels_buddy_like_folios(aredis):
    """folio_split (linux-7.3) of an order-6 folio at page 5: [o2, {o0}, o0, o1, o3, o4, o5] around page 5;
    the large new folios are compound pages again."""
    pc, svc = await _setup(aredis, 3, "t/nu", profile="linux-7.3")
    big = await _folio(svc, 6)
    await pc.add_folio("t/nu", 0, big)
    nodes, height, _ = await _shape(pc, "t/nu")
    res = await pc.truncate_range("t/nu", 5 * 4096 + 7, 5 * 4096 + 9)   # a few bytes inside page 5
    assert res.folios_split == 1 and res.folios_removed == 0 and res.bytes_zeroed == 3
    pieces = [(0, 2), (4, 0), (5, 0), (6, 1), (8, 3), (16, 4), (32, 5)]
    got = []
    for first, order in pieces:
        found = await pc.find_folio("t/nu", first + (1 << order) - 1)
        got.append((found.index, found.folio.order, found.folio.pfn - big.pfn))
    assert got == [(first, order, first) for first, order in pieces]
    # xas_try_split allocates a node each time the split order crosses a level (orders 6 -> 5 and 3 -> 2)
    assert await _shape(pc, "t/nu") == (nodes + 2, height, len(pieces))
    head = await svc.get_page(big.pfn + 32)
    tail = await svc.get_page(big.pfn + 33)
    assert "head" in head.flag_names and tail.member == "compound_tail" and tail.fields["compound_order"] == 5
    assert int(await aredis.hget(keys.node(0, "mthp_stats"), "256kB:split")) == 1


async def test_an_extra_reference_refuses_the_split_and_the_clean_folio_leaves_the_cache(aredis):
    """__folio_split answers -EAGAIN when _refcount exceeds the page cache's and the PTEs' references (a GUP
    pin, here page_ref_add): the folio is not split; clean, it leaves the cache, but the pin keeps it alive."""
    pc, svc = await _setup(aredis, 6, "t/pin")
    big = await _folio(svc, 3)
    await pc.add_folio("t/pin", 0, big)
    await svc.page_ref_add(big.pfn, 1)
    res = await pc.truncate_range("t/pin", 3 * 4096, None)
    assert (res.folios_split, res.split_failed, res.folios_removed, res.freed) == (0, 1, 1, ())
    assert "EAGAIN" in res.split_log
    assert (await svc.get_page(big.pfn)).refcount == 1      # the pin's reference: not freed under it
    assert int(await aredis.hget(keys.node(0, "mthp_stats"), "32kB:split_failed")) == 1
