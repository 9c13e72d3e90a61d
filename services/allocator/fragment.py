"""Deliberate fragmentation: make order >= N+1 allocations fail while smaller ones still succeed.

Not a kernel mechanism; it reproduces what a long-running system looks like. ``fragment(nid, zone,
max_free_order=0)`` allocates every free page of the zone(s) as order-0 pages (__GFP_MEMALLOC, i.e.
ALLOC_NO_WATERMARKS, so even the reserves go), then frees all pages except one in every
2**(max_free_order+1) aligned pages. The pages kept are pinned by the fragmenter (their pfns are in the
node's ``frag`` set) until ``unfragment``: unmovable, like a long-running system's kernel allocations. With
``movable=True`` they are movable instead (the ``frag:movable`` set, __GFP_MOVABLE): non-LRU movable pages as a
balloon driver keeps them (mm/balloon_compaction.c), which compaction migrates (mmsim.allocator.compaction),
like a long-running system's user memory. With max_free_order=0 half of the zone is free yet no order-1
block exists: the buddy of every free page is pinned. The extfrag index (mm/vmstat.c
__fragmentation_index) of the zone is then 0.500 for order 1 and tends to 1.000 for higher orders.
"""

from __future__ import annotations

from mmsim.allocator import gfp as G
from mmsim.allocator.buddy import BuddyAllocator
from mmsim.allocator.zones import MAX_PAGE_ORDER
from mmsim.runtime import keys
from mmsim.runtime.errors import InvalidArgument

# pages per script: each batch is one Lua script, and Redis runs nothing else meanwhile. 8192 pages took
# 3-4 s on a loaded 2-core machine, close to the Redis client's 5 s socket timeout (and every other caller
# waited as long); 1024 take 0.3-0.5 s.
_BATCH = 1024
MOVABLE_SET = "frag:movable"
"""The fragmenter's movable pages (compact_isolate.lua and compact_migrate.lua read and move them)."""
_FRAG_GFP = int(G.GFP_ATOMIC) | int(G.GFP["__GFP_MEMALLOC"]) | int(G.GFP["__GFP_NOWARN"]) | int(G.GFP["__GFP_THISNODE"])


async def fragment(buddy: BuddyAllocator, nid: int = 0, zone: str | None = None, max_free_order: int = 0,
                   movable: bool = False) -> dict:
    """Returns {'pinned': n, 'freed': n, 'zones': [...]}; zone None = every zone of the node."""
    if not 0 <= max_free_order < MAX_PAGE_ORDER:
        raise InvalidArgument(f"max_free_order {max_free_order} must be 0..{MAX_PAGE_ORDER - 1}")
    if nid < 0 or nid >= len(buddy.layout.nodes):
        raise InvalidArgument(f"node {nid} does not exist")
    node = buddy.layout.nodes[nid]
    names = [z.name for z in node.zones]
    if zone is not None and zone not in names:
        raise InvalidArgument(f"zone {zone!r} is not populated on node {nid} (zones: {', '.join(names)})")
    zone_idx = max(z.idx for z in node.zones) if zone is None else next(z.idx for z in node.zones if z.name == zone)
    gfp = _FRAG_GFP | (int(G.GFP["__GFP_MOVABLE"]) if movable else 0) | {0: int(G.GFP_DMA), 1: int(G.GFP_DMA32), 2: 0, 3: int(G.GFP_HIGHUSER_MOVABLE) & ~int(G.GFP_KERNEL)}[zone_idx]
    counters = {c["zone"]: c for c in await buddy.zone_counters() if c["node"] == nid}
    target = [z for z in node.zones if z.idx <= zone_idx] if zone is None else [z for z in node.zones if z.name == zone]
    want = sum(counters[z.name]["nr_free_pages"] for z in node.zones if z.idx <= zone_idx)
    got: list[int] = []
    while want > 0:
        n = min(_BATCH, want)
        a = await buddy.alloc_pages(0, gfp, nid=nid, count=n)
        got.extend(a.pfns)
        want -= n
    stride = 1 << (max_free_order + 1)
    target_ranges = [(z.start_pfn, z.end_pfn) for z in target]

    def in_target(p: int) -> bool:
        return any(s <= p < e for s, e in target_ranges)

    keep = [p for p in got if in_target(p) and p % stride == 0]
    free = [p for p in got if not (in_target(p) and p % stride == 0)]
    for i in range(0, len(free), _BATCH):
        await buddy.free_pages_bulk(free[i : i + _BATCH], 0)
    if keep:
        await buddy.redis.sadd(keys.node(nid, MOVABLE_SET if movable else "frag"), *keep)
    return {"pinned": len(keep), "freed": len(free), "zones": [z.name for z in target]}


async def unfragment(buddy: BuddyAllocator, nid: int = 0) -> int:
    """Free every page the fragmenter holds on the node (pinned or movable); returns how many."""
    total = 0
    for key in (keys.node(nid, "frag"), keys.node(nid, MOVABLE_SET)):
        pfns = sorted(int(x) for x in await buddy.redis.smembers(key))
        for i in range(0, len(pfns), _BATCH):
            await buddy.free_pages_bulk(pfns[i : i + _BATCH], 0)
        await buddy.redis.delete(key)
        total += len(pfns)
    return total
