"""The allocator's CONFIG_DEBUG_VM check and the in-flight ledger, against a real redis-server.

Each corruption below is one a crashed or buggy step could leave; the check must name it with its rule and
pfn, and report nothing on a consistent memory map.
"""

from __future__ import annotations

import pytest

from mmsim.allocator import debug_vm
from mmsim.allocator import gfp as G
from mmsim.allocator.allocator import AllocatorService
from mmsim.allocator.zones import Layout
from mmsim.runtime import keys
from mmsim.runtime.debug_vm import Report
from mmsim.runtime.errors import FailedPrecondition


@pytest.fixture()
async def svc(aredis):
    s = AllocatorService(aredis, Layout.build(32 << 20, 1), profile="lsfmm2018")
    await s.buddy.init_memory()
    return s


async def _check(svc) -> Report:
    report = Report("allocator")
    await debug_vm.check(svc.buddy, report)
    return report


async def test_a_consistent_memory_map_has_no_violations_and_counts_every_owner(svc):
    total = svc.layout.total_pages
    a = await svc.alloc_pages(3, G.GFP_KERNEL | G.GFP["__GFP_COMP"])
    await svc.alloc_pages(0, G.GFP_KERNEL, ledger=("pagecache", "ab" * 16))
    v = await svc.vmalloc(5 * 4096)
    k = await svc.kmalloc(4096)
    r = await _check(svc)
    assert r.violations == []
    assert r.checked["pfns"] == total
    assert r.owners["in_flight"] == 1 and r.owners["vmalloc"] == 5 and r.owners["caller"] == 8 + 1
    assert sum(r.owners.values()) == total
    await svc.free_pages(a.pfn, 3)
    await svc.kvfree(v.addr)
    await svc.kvfree(k.addr)
    assert (await _check(svc)).violations == []


@pytest.mark.parametrize("corrupt, rule", [
    (lambda s, pfn: s.redis.hdel(keys.node(0, "owner"), pfn), "pfn_no_owner"),
    (lambda s, pfn: s.redis.zrem(keys.node(0, "free:DMA:10:1"), 1024), "buddy_not_on_free_list"),
    (lambda s, pfn: s.redis.hincrby(keys.node(0, "zone:DMA"), "nr_free_pages", -1), "nr_free_pages"),
    (lambda s, pfn: s.redis.hset(keys.node(0, "owner"), 1024, "0:0"), "pfn_two_owners"),
    (lambda s, pfn: s.page_mapcount_add(pfn, 1), None),   # mapped without a PTE: only the cluster check sees it
])
async def test_each_corruption_is_reported_with_its_rule(svc, corrupt, rule):
    a = await svc.alloc_pages(0, G.GFP_KERNEL)
    await corrupt(svc, a.pfn)
    r = await _check(svc)
    if rule is None:
        assert r.violations == [] and r.checked["mapped_pages"] == 1
        return
    assert rule in {v.rule for v in r.violations}, r.violations
    assert all(v.service == "allocator" for v in r.violations)


async def test_the_recovery_pass_returns_abandoned_in_flight_allocations(svc, aredis):
    before = (await svc.vmstat())["nr_free_pages"]
    got = [await svc.alloc_pages(o, G.GFP_KERNEL | G.GFP["__GFP_COMP"], ledger=("pagecache", "cd" * 16))
           for o in (0, 2, 9)]
    kept = await svc.alloc_pages(0, G.GFP_KERNEL)   # the caller owns it: never reclaimed
    assert await svc.buddy.reclaim_ledger(60_000) == 0      # nothing is past a minute yet
    assert await svc.buddy.reclaim_ledger(-1) == 1 + 4 + 512   # every entry is older than -1 ms
    assert (await svc.vmstat())["nr_free_pages"] == before - 1
    assert (await svc.vmstat())["mmsim_ledger_reclaimed"] == 517
    assert await aredis.hlen(keys.node(0, "ledger")) == 0
    assert (await _check(svc)).violations == []
    with pytest.raises(FailedPrecondition, match="already free"):
        await svc.free_pages(got[0].pfn, 0)
    await svc.free_pages(kept.pfn, 0)
    assert (await svc.vmstat())["nr_free_pages"] == before


async def test_free_pages_ends_an_in_flight_allocation(svc, aredis):
    a = await svc.alloc_pages(1, G.GFP_KERNEL | G.GFP["__GFP_COMP"], ledger=("anon", "ef" * 16))
    entry = (await aredis.hget(keys.node(0, "ledger"), a.pfn)).decode()
    order, since, purpose, trace = entry.split(":")
    assert (order, purpose, trace) == ("1", "anon", "ef" * 16) and int(since) > 0
    await svc.free_pages(a.pfn, 1)
    assert await aredis.hlen(keys.node(0, "ledger")) == 0
