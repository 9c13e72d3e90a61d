"""The page cache over the XArray, against a real redis-server (no gRPC): mm/filemap.c semantics."""

from __future__ import annotations

import pytest

from mmsim.allocator.allocator import AllocatorService
from mmsim.pagecache.filemap import Folio, PageCache, Tag
from mmsim.runtime import config, keys
from mmsim.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

M = "xfs0/7"


SETTINGS = config.Settings(memory_bytes=64 << 20)


async def make_file(aredis, mapping=M, i_size=1 << 30, indexing="multi-order"):
    await aredis.hset(keys.mapping(mapping, "inode"), mapping={"i_size": i_size, "indexing": indexing})
    return PageCache(aredis, SETTINGS)


async def folio(aredis, order: int) -> Folio:
    """A real folio from the buddy allocator (struct pages initialised, as the page cache expects)."""
    svc = await AllocatorService.open(aredis, SETTINGS)
    got = await svc.alloc_pages(order, "GFP_HIGHUSER_MOVABLE|__GFP_COMP")
    return Folio(got.nid, got.pfn, got.order)


async def test_multi_order_folio_covers_its_range(aredis):
    pc = await make_file(aredis)
    f = await folio(aredis, 2)
    assert await pc.add_folio(M, 4, f) == 4
    for i in range(4, 8):
        found = await pc.find_folio(M, i)
        assert found.folio == f and found.index == 4
    with pytest.raises(NotFound):
        await pc.find_folio(M, 8)
    assert int(await aredis.hget(keys.node(0, "vmstat"), "nr_file_pages")) == 4


async def test_add_folio_races_report_the_winner_and_change_nothing(aredis):
    """__filemap_add_folio: -EEXIST when a real folio overlaps; the loser must free its own folio."""
    pc = await make_file(aredis)
    winner = await folio(aredis, 3)
    await pc.add_folio(M, 8, winner)
    before = await pc.stats(M)
    with pytest.raises(AlreadyExists, match=f"pfn {winner.pfn} order 3 at index 8"):
        await pc.add_folio(M, 12, await folio(aredis, 0))
    with pytest.raises(AlreadyExists):
        await pc.add_folio(M, 0, await folio(aredis, 4))   # a larger folio over it
    assert await pc.stats(M) == before


@pytest.mark.parametrize("index, order", [(3, 1), (4, 3), (256, 9)])
async def test_unaligned_index_is_refused(aredis, index, order):
    pc = await make_file(aredis)
    if index % (1 << order) == 0:
        index += 1
    with pytest.raises(InvalidArgument, match="not aligned"):
        await pc.add_folio(M, index, Folio(0, 512, order))
    assert (await pc.stats(M))["entries"] == 0


async def test_order_above_max_pagecache_order_is_refused(aredis):
    pc = await make_file(aredis)
    with pytest.raises(InvalidArgument, match="MAX_PAGECACHE_ORDER"):
        await pc.add_folio(M, 0, Folio(0, 0, 10))


async def test_unknown_mapping_is_not_found(aredis):
    pc = PageCache(aredis, SETTINGS)
    with pytest.raises(NotFound, match="no such file"):
        await pc.fault_lookup("nofs/1", 0)


async def test_fault_lookup_eof(aredis):
    """filemap_fault: pgoff >= DIV_ROUND_UP(i_size, PAGE_SIZE) is beyond EOF; the last partial page is not."""
    pc = await make_file(aredis, i_size=5000)
    assert not (await pc.fault_lookup(M, 1)).beyond_eof
    assert (await pc.fault_lookup(M, 2)).beyond_eof


async def test_zero_entry_is_replaced_by_a_folio_and_keeps_the_rest_of_the_hole(aredis):
    pc = await make_file(aredis)
    assert await pc.add_zero_entry(M, 0, 3) == 8
    hole = await pc.find_folio(M, 5)
    assert hole.zero and hole.index == 0 and hole.order == 3
    f = await folio(aredis, 0)
    await pc.add_folio(M, 5, f)
    assert (await pc.find_folio(M, 5)).folio == f
    for i in (0, 4, 6, 7):
        assert (await pc.find_folio(M, i)).zero
    stats = await pc.stats(M)
    assert stats["zero_pages"] == 7 and stats["nrpages"] == 1
    assert stats["folio_entries"] == 1 and stats["zero_entries"] == 3   # holes [0,3] [4] [6,7] around the folio


async def test_zero_entry_refused_over_cached_pages(aredis):
    pc = await make_file(aredis)
    await pc.add_folio(M, 2, await folio(aredis, 0))
    with pytest.raises(AlreadyExists, match="page 2"):
        await pc.add_zero_entry(M, 0, 2)


@pytest.mark.parametrize("mode", ["multi-order", "order-0", "hugetlb"])
async def test_lookups_by_offset_agree_across_indexing_modes(aredis, mode):
    pc = await make_file(aredis, indexing=mode)
    f = await folio(aredis, 9)
    await pc.add_folio(M, 512, f)   # one 2 MiB folio at file offset 2 MiB
    for offset in (2 << 20, (2 << 20) + 4096 * 7, (4 << 20) - 1):
        found = await pc.find_folio(M, offset >> 12)
        assert found.folio == f and found.index == 512
    with pytest.raises(NotFound):
        await pc.find_folio(M, 1024)


async def test_node_counts_order9_vs_512_order0(aredis):
    """The article's point: one multi-order entry costs one slot, 512 order-0 entries cost 9 nodes."""
    stats = {}
    for mode in ("multi-order", "order-0", "hugetlb"):
        m = f"xfs0/{mode}"
        pc = await make_file(aredis, mapping=m, indexing=mode)
        await pc.add_folio(m, 0, await folio(aredis, 9))
        stats[mode] = await pc.stats(m)
    assert stats["order-0"]["entries"] == 512 and stats["order-0"]["nodes"] == 9   # 8 leaves of 64 + 1 parent
    assert stats["multi-order"]["entries"] == 1 and stats["hugetlb"]["entries"] == 1
    assert stats["multi-order"]["nodes"] == 1                                  # 8 slots (1 + 7 siblings) of one node
    assert stats["hugetlb"]["nodes"] == 0                                      # index 0 lives in the head
    assert stats["order-0"]["redis_bytes"] > stats["multi-order"]["redis_bytes"]


async def test_hugetlb_mapping_takes_only_2mib_folios(aredis):
    pc = await make_file(aredis, indexing="hugetlb")
    with pytest.raises(FailedPrecondition, match="order-9"):
        await pc.add_folio(M, 0, Folio(0, 0, 0))


async def test_tags_mark_folios_and_find_tagged_returns_each_once(aredis):
    pc = await make_file(aredis, indexing="order-0")
    a, b = await folio(aredis, 2), await folio(aredis, 0)
    await pc.add_folio(M, 0, a)
    await pc.add_folio(M, 8, b)
    await pc.tag_folio(M, 1, Tag.DIRTY)
    await pc.tag_folio(M, 8, Tag.DIRTY)
    assert Tag.DIRTY in (await pc.find_folio(M, 3)).tags
    dirty = await pc.find_tagged(M, Tag.DIRTY, 0, 10)
    assert [(f.index, f.folio.pfn) for f in dirty] == [(0, a.pfn), (8, b.pfn)]
    await pc.tag_folio(M, 2, Tag.DIRTY, clear=True)
    assert [f.index for f in await pc.find_tagged(M, Tag.DIRTY, 0, 10)] == [8]
    with pytest.raises(NotFound):
        await pc.tag_folio(M, 100, Tag.WRITEBACK)


async def test_dump_draws_nodes_siblings_and_marks(aredis):
    from mmsim.pagecache import xadump

    pc = await make_file(aredis)
    f = await folio(aredis, 3)
    await pc.add_folio(M, 64, f)
    await pc.add_zero_entry(M, 0, 2)
    await pc.tag_folio(M, 64, Tag.DIRTY)
    text = xadump.render(await pc.xarray(M).dump(), M)
    assert f"folio pfn {f.pfn:#x} order 3" in text and "[DIRTY]" in text
    assert "sibling of slot" in text and "zero entry (hole)" in text
    assert "node shift 6" in text and "node shift 0" in text


async def test_added_folio_is_uptodate_on_the_lru_and_owned_by_the_mapping(aredis):
    pc = await make_file(aredis)
    f = await folio(aredis, 2)
    await pc.add_folio(M, 0, f)
    page = await (await AllocatorService.open(aredis, SETTINGS)).get_page(f.pfn)
    assert {"uptodate", "lru", "head"} <= set(page.flag_names)
    assert M in str(page.fields["mapping"])


async def test_truncate_splits_the_straddling_folio_and_drops_what_lies_beyond(aredis):
    """truncate_inode_pages_range from byte 6000 (min order 0, uniform split): the order-0 folio at page 4
    goes; the order-2 folio straddling EOF is split to order 0 (split_folio) and its pages 2-3 deleted; what
    was freed is freeable, and the pages that stay are order-0 folios with their own owner records."""
    pc = await make_file(aredis)
    svc = await AllocatorService.open(aredis, SETTINGS)
    big, small = await folio(aredis, 2), await folio(aredis, 0)
    await pc.add_folio(M, 0, big)
    await pc.add_folio(M, 4, small)
    res = await pc.truncate_range(M, 6000, None)
    assert (res.folios_removed, res.folios_split, res.split_failed, res.pages_freed) == (3, 1, 0, 3)
    assert sorted(f.pfn for f in res.freed) == sorted([big.pfn + 2, big.pfn + 3, small.pfn])
    assert (await pc.stats(M))["nrpages"] == 2
    for page in (0, 1):
        found = await pc.find_folio(M, page)
        assert (found.folio, found.index) == (Folio(big.node, big.pfn + page, 0), page)
        assert "head" not in (await svc.get_page(big.pfn + page)).flag_names
    assert int(await aredis.hget(keys.node(0, "mthp_stats"), "16kB:split")) == 1
    for f in res.freed:
        await svc.free_pages(f.pfn, f.order)   # refcount 1, mapping cleared, order-0 owner: a clean __free_pages


async def test_truncate_splits_a_dirty_partial_folio_and_zeroes_its_tail(aredis):
    pc = await make_file(aredis)
    big = await folio(aredis, 2)
    await pc.add_folio(M, 0, big)
    mem = keys.node(0, f"mem:{big.pfn}")
    await aredis.set(mem, b"\xff" * 16384)
    await pc.tag_folio(M, 0, Tag.DIRTY)
    res = await pc.truncate_range(M, 6000, None)
    assert res.folios_removed == 2 and res.bytes_zeroed == 16384 - 6000
    assert await aredis.get(mem) == b"\xff" * 4096
    assert await aredis.get(keys.node(0, f"mem:{big.pfn + 1}")) == b"\xff" * (6000 - 4096) + b"\0" * (8192 - 6000)
    found = await pc.find_folio(M, 1)
    assert found.folio == Folio(big.node, big.pfn + 1, 0) and Tag.DIRTY in found.tags   # the marks are copied
    assert int(await aredis.hget(keys.node(0, "vmstat"), "nr_dirty")) == 2


async def test_truncate_at_the_minimum_order_keeps_a_dirty_folio_whole(aredis):
    """An order-2 folio of a mapping whose minimum order is 2 cannot be split (-EINVAL): a dirty one stays,
    its tail zeroed; the refusal is counted as split_failed."""
    pc = await make_file(aredis)
    await aredis.hset(keys.mapping(M, "inode"), mapping={"min_order": 2, "policy": "min-order"})
    big = await folio(aredis, 2)
    await pc.add_folio(M, 0, big)
    await aredis.set(keys.node(0, f"mem:{big.pfn}"), b"\xff" * 16384)
    await pc.tag_folio(M, 0, Tag.DIRTY)
    res = await pc.truncate_range(M, 6000, None)
    assert (res.folios_removed, res.folios_split, res.split_failed) == (0, 0, 1) and res.freed == ()
    assert "refused (EINVAL" in res.split_log
    assert (await pc.find_folio(M, 3)).folio == big
    assert int(await aredis.hget(keys.node(0, "mthp_stats"), "16kB:split_failed")) == 1


async def test_invalidate_drops_only_clean_unreferenced_folios(aredis):
    """invalidate_mapping_pages: dirty or mapped folios stay."""
    pc = await make_file(aredis)
    svc = await AllocatorService.open(aredis, SETTINGS)
    clean, dirty, mapped = await folio(aredis, 0), await folio(aredis, 0), await folio(aredis, 0)
    for i, f in enumerate((clean, dirty, mapped)):
        await pc.add_folio(M, i, f)
    await pc.tag_folio(M, 1, Tag.DIRTY)
    await svc.page_ref_add(mapped.pfn, 1)
    await svc.page_mapcount_add(mapped.pfn, 1)
    removed, busy, freed = await pc.invalidate(M)
    assert (removed, busy) == (1, 2) and freed == [clean]
    assert (await pc.find_folio(M, 1)).folio == dirty and (await pc.find_folio(M, 2)).folio == mapped


async def test_add_after_a_truncate_the_caller_did_not_see_is_aborted(aredis):
    """A populate that read data_seq before a truncate must not insert its folio after it (it may hold
    blocks the truncate freed): the seqcount check refuses it with no state change."""
    from mmsim.runtime.errors import Aborted

    pc = await make_file(aredis)
    f = await folio(aredis, 0)
    await aredis.hset(keys.mapping(M, "inode"), "data_seq", 3)
    with pytest.raises(Aborted, match="data_seq 2 -> 3"):
        await pc.add_folio(M, 0, f, data_seq=2)
    with pytest.raises(Aborted):
        await pc.add_zero_entry(M, 4, 0, data_seq=2)
    assert (await pc.stats(M))["entries"] == 0
    assert await pc.add_folio(M, 0, f, data_seq=3) == 1


async def test_dirty_and_writeback_tags_are_accounted_like_the_kernel(aredis):
    """folio_mark_dirty / __folio_start_writeback / folio_end_writeback: nr_dirty, nr_writeback and the
    PG_dirty / PG_writeback flags follow the tags, once per transition; deleting a dirty folio uncounts it."""
    pc = await make_file(aredis)
    svc = await AllocatorService.open(aredis, SETTINGS)
    f = await folio(aredis, 2)
    await pc.add_folio(M, 0, f)
    vm = keys.node(0, "vmstat")

    async def counts():
        return [int(await aredis.hget(vm, k) or 0) for k in ("nr_dirty", "nr_writeback")]

    await pc.tag_folio(M, 1, Tag.DIRTY)
    await pc.tag_folio(M, 2, Tag.DIRTY)          # already dirty: counted once
    assert await counts() == [4, 0]
    assert "dirty" in (await svc.get_page(f.pfn)).flag_names
    await pc.tag_folio(M, 0, Tag.WRITEBACK)
    await pc.tag_folio(M, 0, Tag.DIRTY, clear=True)
    assert await counts() == [0, 4]
    assert "writeback" in (await svc.get_page(f.pfn)).flag_names
    await pc.tag_folio(M, 0, Tag.WRITEBACK, clear=True)
    await pc.tag_folio(M, 0, Tag.DIRTY)
    res = await pc.truncate_range(M, 0, None)
    assert await counts() == [0, 0] and res.freed == (f,)
    assert "dirty" not in (await svc.get_page(f.pfn)).flag_names


async def test_a_folio_already_in_a_page_cache_is_refused_elsewhere(aredis):
    """__filemap_add_folio's VM_BUG_ON_FOLIO(folio->mapping): a page already cached (or mapped as anonymous
    memory) is not a new folio; a second insert, at another index or into another file, changes nothing."""
    from mmsim.runtime.errors import FailedPrecondition

    pc = await make_file(aredis)
    await make_file(aredis, "t/2")
    f = await folio(aredis, 0)
    assert await pc.add_folio(M, 21, f) == 1
    for mapping, index in ((M, 22), ("t/2", 0)):
        with pytest.raises(FailedPrecondition, match="already has a ->mapping"):
            await pc.add_folio(mapping, index, f)
    assert (await pc.stats(M))["entries"] == 1 and (await pc.stats("t/2"))["entries"] == 0
    assert (await pc.find_folio(M, 21)).folio == f


async def test_an_insert_over_a_zero_entry_says_how_many_hole_pages_it_replaced(aredis):
    """The caller zaps the zero-page PTEs of what the insert replaced, whoever put the zero entry there (a
    populate may insert one between a writer's miss and its insert): the insert's step tells it."""
    pc = await make_file(aredis)
    await pc.add_zero_entry(M, 0, 3)                       # pages 0..7 are a hole
    added = await pc.insert_folio(M, 4, await folio(aredis, 1))
    assert added.zero_replaced == 2                         # pages 4 and 5 of the hole
    assert (await pc.insert_folio(M, 16, await folio(aredis, 0))).zero_replaced == 0
