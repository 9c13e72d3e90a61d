"""The in-flight ledger's take-over: a consumer takes the block over in the same step, or is refused.

Against a real redis-server (no gRPC): the page cache's AddFolio is the consumer; the allocator's recovery
pass is what reclaims abandoned entries.
"""

from __future__ import annotations

import pytest

from mmsim.allocator.allocator import AllocatorService
from mmsim.pagecache.filemap import Folio, PageCache
from mmsim.runtime import config, keys
from mmsim.runtime.errors import FailedPrecondition

M = "xfs0/9"
SETTINGS = config.Settings(memory_bytes=64 << 20)
TRACE, OTHER = "aa" * 16, "bb" * 16


@pytest.fixture()
async def env(aredis):
    await aredis.hset(keys.mapping(M, "inode"), mapping={"i_size": 1 << 20, "indexing": "multi-order"})
    return await AllocatorService.open(aredis, SETTINGS), PageCache(aredis, SETTINGS)


async def _in_flight(svc, order=2):
    got = await svc.alloc_pages(order, "GFP_HIGHUSER_MOVABLE|__GFP_COMP", ledger=("pagecache", TRACE))
    return Folio(got.nid, got.pfn, got.order)


async def test_add_folio_takes_the_folio_over_from_the_ledger_in_the_same_step(env, aredis):
    svc, pc = env
    f = await _in_flight(svc)
    assert await aredis.hexists(keys.node(0, "ledger"), f.pfn)
    await pc.add_folio(M, 0, f, trace=TRACE)
    assert not await aredis.hexists(keys.node(0, "ledger"), f.pfn)
    assert (await svc.get_page(f.pfn)).member == "page_cache"


async def test_add_folio_of_another_request_or_of_a_reclaimed_block_changes_nothing(env, aredis):
    svc, pc = env
    f = await _in_flight(svc)
    with pytest.raises(FailedPrecondition, match="in flight for another request"):
        await pc.add_folio(M, 0, f, trace=OTHER)
    assert await aredis.hexists(keys.node(0, "ledger"), f.pfn)
    assert await svc.buddy.reclaim_ledger(-1) == 4          # the request died: the recovery pass frees it
    with pytest.raises(FailedPrecondition, match="was reclaimed"):
        await pc.add_folio(M, 0, f, trace=TRACE)
    assert await aredis.hget(keys.mapping(M, "inode"), "nrpages") in (None, b"0")


async def test_a_folio_the_truncate_decided_to_free_is_in_flight_until_it_is_freed(env, aredis):
    svc, pc = env
    f = await _in_flight(svc, order=0)
    await pc.add_folio(M, 0, f, trace=TRACE)
    freed = (await pc.truncate_range(M, 0, None)).freed
    assert list(freed) == [f]
    entry = (await aredis.hget(keys.node(0, "ledger"), f.pfn)).decode()
    assert entry.split(":")[2] == "cache-free"
    await svc.free_pages(f.pfn, 0)
    assert not await aredis.hexists(keys.node(0, "ledger"), f.pfn)
