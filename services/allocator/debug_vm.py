"""The allocator's CONFIG_DEBUG_VM: every pfn has exactly one owner; free lists, struct pages and counters agree.

Models the checks of mm/page_alloc.c bad_page / check_new_page and mm/debug.c dump_page, run over the whole
memory map instead of at one page's alloc or free. The struct pages are scanned by ``debug_vm.lua``, one
script per PAGES_PER_SCRIPT (1024) records (1024 scripts for a 4 GiB machine), so no script blocks Redis
for long. Rules (``Violation.rule``):

* ``pfn_no_owner``: a pfn neither in a free block, nor in an allocation (page_owner);
* ``pfn_two_owners``: in a free block and allocated, in two allocations, or in flight (the ledger) and also
  owned by the page cache or a process (->mapping set);
* ``buddy_not_on_free_list`` / ``buddy_block_misaligned`` / ``free_page_in_use``: a PageBuddy head missing from
  its free_area list, a free block not aligned to its order, a page inside a free block with state;
* ``free_list_count``: a free list holds members that are not PageBuddy heads of its order and migratetype;
* ``nr_free_count``: zone nr_free:ORDER differs from its free lists' length (free_area[order].nr_free);
* ``nr_free_pages``: zone NR_FREE_PAGES differs from the sum over orders of nr_free * 2^order (buddyinfo);
* ``allocated_refcount``: an allocated head with _refcount < 1; ``compound_tail``: a tail whose compound_head
  names another head; ``ledger_order`` / ``ledger_not_allocated``: an in-flight entry that page_owner disagrees
  with; ``vmalloc_page_not_allocated``: a vmalloc area page that is not an order-0 allocation.

Owners counted (pages): buddy, page_cache, anon, in_flight, vmalloc and caller (allocated, owned only by the
caller that holds it: AllocPages without in_flight_for, kmalloc).
"""

from __future__ import annotations

import json

from mmsim.allocator.buddy import BuddyAllocator
from mmsim.allocator.vmemmap import PAGES_PER_CHUNK, PG, build_script
from mmsim.allocator.zones import NR_PAGE_ORDERS
from mmsim.allocator import gfp as G
from mmsim.runtime import keys
from mmsim.runtime.lua import Spec, SpecScript

PAGES_PER_SCRIPT = 1024
"""Struct pages one scan script reads: one MAX_ORDER block. When every page is an order-0 allocation (the
worst case) a call took 56 ms on average seen from the client (worst 154 ms) under a load average of 20 on 2
cores; free memory scans far faster (one record per free block)."""

SCAN = SpecScript(Spec("debug_vm", keys=("node",), args=("node_start", "node_end", "lo", "hi", "zone", "max_violations"),
                       replies={"scan": ("json",)}), __file__, build_script(f"local PG_HEAD = {PG['head']}"))
"""debug_vm.lua. KEY node (the node's key prefix); ARG node_start, node_end (pfns), lo, hi (the pfns to scan),
zone (``NAME:start:end``), max_violations. Reply: scan (its findings, JSON)."""


def _pairs(flat) -> list[tuple[int, int]]:
    flat = list(flat or [])
    return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]


async def check(buddy: BuddyAllocator, report) -> None:
    redis = buddy.redis
    for node in buddy.layout.nodes:
        caller: dict[int, int] = {}
        for z in node.zones:
            seen = {(o, mt): 0 for o in range(NR_PAGE_ORDERS) for mt in range(G.MIGRATE_PCPTYPES)}
            pfn = z.start_pfn
            while pfn < z.end_pfn:
                chunk_end = node.start_pfn + ((pfn - node.start_pfn) // PAGES_PER_CHUNK + 1) * PAGES_PER_CHUNK
                hi = min(chunk_end, z.end_pfn, pfn + PAGES_PER_SCRIPT)
                left = max(0, report.limit - len(report.violations))
                res = json.loads((await SCAN(redis, node=buddy.prefix(node.nid), node_start=node.start_pfn,
                                             node_end=node.end_pfn, lo=pfn, hi=hi, zone=f"{z.name}:{z.start_pfn}:{z.end_pfn}",
                                             max_violations=left)).json)
                for rule, bad_pfn, msg in res["bad"] or []:
                    report.add(rule, msg, pfn=int(bad_pfn))
                for kind, pages in (res["owners"] or {}).items():
                    report.owners[kind] += int(pages)
                for k, n in (res["buddy"] or {}).items():
                    o, mt = (int(x) for x in k.split(":"))
                    seen[(o, mt)] = seen.get((o, mt), 0) + int(n)
                caller.update(_pairs(res["caller"]))
                report.checked["mapped_pages"] += int(res["mapped"])
                report.checked["pfns"] += int(res["next"]) - pfn
                pfn = max(int(res["next"]), pfn + 1)
            await _check_zone(redis, node.nid, z.name, seen, report)
        await _check_ledger(redis, node.nid, report)
        await _check_vmalloc(redis, node.nid, caller, report)
        report.owners["caller"] += sum(1 << o for o in caller.values())


async def _check_zone(redis, nid: int, zone: str, seen: dict, report) -> None:
    pipe = redis.pipeline(transaction=False)
    for o in range(NR_PAGE_ORDERS):
        for mt in range(G.MIGRATE_PCPTYPES):
            pipe.zcard(keys.node(nid, f"free:{zone}:{o}:{mt}"))
    pipe.hgetall(keys.node(nid, f"zone:{zone}"))
    res = await pipe.execute()
    zh = {k.decode(): int(v) for k, v in res[-1].items()}
    zkey = keys.node(nid, f"zone:{zone}")
    total = 0
    for o in range(NR_PAGE_ORDERS):
        on_lists = 0
        for mt in range(G.MIGRATE_PCPTYPES):
            n = res[o * G.MIGRATE_PCPTYPES + mt]
            on_lists += n
            if n != seen[(o, mt)]:
                report.add("free_list_count", f"free_area[{o}].free_list[{mt}] of zone {zone} holds {n} blocks, the "
                           f"memory map has {seen[(o, mt)]} PageBuddy heads of that order and migratetype",
                           key=keys.node(nid, f"free:{zone}:{o}:{mt}"))
        if zh.get(f"nr_free:{o}", 0) != on_lists:
            report.add("nr_free_count", f"zone {zone} nr_free:{o} = {zh.get(f'nr_free:{o}', 0)}, its free lists hold "
                       f"{on_lists} blocks", key=zkey)
        total += zh.get(f"nr_free:{o}", 0) << o
    if zh.get("nr_free_pages", 0) != total:
        report.add("nr_free_pages", f"zone {zone} nr_free_pages = {zh.get('nr_free_pages', 0)}, buddyinfo sums to "
                   f"{total} pages", key=zkey)
    report.checked["zones"] += 1


async def _check_ledger(redis, nid: int, report) -> None:
    lkey, okey = keys.node(nid, "ledger"), keys.node(nid, "owner")
    async for field, _ in redis.hscan_iter(lkey, count=500):
        # the entry and page_owner read together (MULTI): a free between the scan and the read ended both
        value, own = await redis.pipeline(transaction=True).hget(lkey, field).hget(okey, field).execute()
        if value is None:
            continue
        pfn, order = int(field), int(value.split(b":")[0])
        if own is None:
            report.add("ledger_not_allocated", f"in flight ({value.decode()}) but not allocated", pfn=pfn, key=lkey)
        report.checked["ledger_entries"] += 1
        report.checked["ledger_pages"] += 1 << order


async def _check_vmalloc(redis, nid: int, caller: dict[int, int], report) -> None:
    """The pages of every vmalloc area (``kv:ID``) are order-0 allocations owned by nothing else."""
    pattern = keys.node(nid, "kv:*").replace("{", "\\{").replace("}", "\\}")
    async for key in redis.scan_iter(match=pattern, count=500):
        if key.endswith(b":next"):
            continue
        raw = await redis.hget(key, "pfns")
        for x in (raw or b"").split(b","):
            if not x:
                continue
            pfn = int(x)
            if caller.pop(pfn, None) != 0:
                report.add("vmalloc_page_not_allocated", f"page of vmalloc area {key.decode()} is not an order-0 "
                           "allocation owned by the area alone", pfn=pfn, key=key.decode())
            report.owners["vmalloc"] += 1
