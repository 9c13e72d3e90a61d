"""Memory compaction for high-order allocations: the allocator's slow path migrates movable pages out of an
aligned block so that the block merges free.

Models mm/compaction.c (try_to_compact_pages, compact_zone_order, compact_zone, __compaction_suitable,
isolate_migratepages, the free scanner's isolate_freepages) and mm/migrate.c (migrate_pages: migrate_folio,
remove_migration_ptes), called by mm/page_alloc.c __alloc_pages_direct_compact when an order > 0 request with
__GFP_DIRECT_RECLAIM failed. A zone is worth compacting when its free pages would leave it above the min
watermark plus compact_gap (2 << order) after the allocation; then:

1. the migrate scanner (``compact_isolate.lua``, one script per up to SCAN_BUDGET pages scanned) walks the zone
   from its start in blocks of 2**order, skips a pageblock holding an unmovable page, and isolates the free
   pieces of the first block whose other pages are all movable (page-cache folios, anonymous pages on the LRU,
   the fragmenter's movable pages): they leave the free lists as allocations owned by the in-flight ledger;
2. the free scanner's part: destinations for the block's movable allocations, one bulk allocation per order
   (without watermarks, as compaction_alloc takes isolated free pages, and never from the isolated block);
3. ``compact_migrate.lua`` moves every movable allocation of the block in ONE script: bytes, struct page
   state, XArray entry (page cache), LRU place (file or anon list), page_owner record and every PTE through the
   reverse map's walk (rmap_walk_file over i_mmap, rmap_walk_anon over the fork tree's anon_vma);
4. the old allocations and the isolated pieces are freed (one FreePages round trip per order) and merge into
   the free block of the order asked for.

Round trips: 1 (the zone counters) + scanner scripts (zone pages / SCAN_BUDGET at most) + 1 per order of the
destinations + 1 migration + 1 per order freed + 1 (the counters), whatever the number of pages moved.
Pages are owned at every instant: the isolated pieces, the destinations and the old allocations are in the
ledger between the steps, so a compactor that dies leaves them to the recovery pass.

Counters (/proc/vmstat): compact_stall (a direct compaction), compact_migrate_scanned (pages the migrate scanner
looked at), compact_free_scanned (free pages taken for destinations), compact_isolated (pages isolated: the
movable pages and their destinations), pgmigrate_success / pgmigrate_fail (pages moved / refused: a folio
pinned or changed since the scan); compact_success / compact_fail are counted by the allocation attempt that
follows (it got its block, or not).

Simplifications, said plainly: one synchronous pass per stall (no async/sync priorities, no deferral:
compaction_deferred), the migrate scanner always starts at the zone's start and the destinations come from the
buddy lists' usual order instead of the zone's top, and the block found is freed for whoever allocates next
(no capture_control). Anonymous folios are order 0 here (COW copies); there is no swap cache to move.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import structlog

from mmsim.allocator import gfp as G
from mmsim.allocator.vmemmap import MAPPING_SHARED, PG, build_script, node_spans
from mmsim.runtime import keys, locks, lua, tracing
from mmsim.runtime.errors import ResourceExhausted
from mmsim.runtime.lua import Spec, SpecScript

log = structlog.get_logger("mmsim.compaction")

SCAN_BUDGET = 4096
"""Pages the migrate scanner looks at per script (each is one Redis round trip; Redis runs nothing else meanwhile)."""
COMPACT_GFP = int(G.__GFP_HIGH | G.__GFP_MEMALLOC | G.__GFP_NOWARN | G.__GFP_THISNODE | G.__GFP_MOVABLE)
"""The destinations' mask: no watermarks (compaction_alloc takes isolated free pages), no reclaim, this node."""
GFP_COMP = int(G.__GFP_COMP)

ISOLATE = Spec(
    "compact_isolate", keys=("prefix",),
    args=("node_start", "node_end", "zones", "zone", "cursor", "stop", "order",
          "budget",   # pages to scan in this script
          "trace"),   # the compacting call's trace id (owner of the isolated pieces)
    replies={"found": ("block:int", "scanned:int", "pieces:int",
                       "*rest"),   # (pfn, order) of each free piece isolated, then (kind, pfn, order) of each movable
             "free": ("block:int", "scanned:int"),
             "none": ("next:int", "scanned:int", "skipped:int")})
MIGRATE = Spec(
    "compact_migrate", args=("spans", "node", "chunk_shift", "trace",
                             "*moves"),   # kind ('cache' | 'anon' | 'movable'), old pfn, order, destination pfn; each
    replies={"ok": ("migrated:int", "ptes:int", "refused:int", "*freed:int")})   # node, pfn, order of each block to free


@dataclass
class CompactResult:
    """What one direct compaction did (the fields of the mm_compaction_end tracepoint and the counters)."""

    order: int
    status: str = "skipped"    # success (a free block of the order was made) | fail | skipped (not suitable)
    block: int = -1            # head pfn of the block made free
    zone: str = ""
    migrated: int = 0          # pages moved (units: pages)
    ptes: int = 0              # PTEs pointed at the new pages (units: PTEs)
    refused: int = 0           # pages that could not move (pinned or changed since the scan; units: pages)
    migrate_scanned: int = 0   # pages the migrate scanner looked at (units: pages)
    free_scanned: int = 0      # free pages taken for destinations (units: pages)
    skipped_pageblocks: int = 0  # pageblocks passed over for an unmovable page (units: pageblocks)

    def to_dict(self) -> dict:
        return asdict(self)


def _pairs(values: list[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(values[i:i + n]) for i in range(0, len(values) - n + 1, n)]


class Compactor:
    """Direct compaction of one allocator process (set as BuddyAllocator.compactor by the allocator service)."""

    def __init__(self, buddy, chunk_shift: int, migrate_libraries: str):
        self.buddy = buddy
        self.redis = buddy.redis
        self.layout = buddy.layout
        self._cs = chunk_shift
        self._spans = node_spans(self.layout)
        self._isolate = SpecScript(ISOLATE, __file__, build_script(
            f"local MAPPING_SHARED, COMPACT_PG_LRU = {MAPPING_SHARED}, {PG['lru']}\n" + lua.source(__file__, "buddy")))
        self._migrate = SpecScript(MIGRATE, __file__, migrate_libraries)

    async def try_to_compact_pages(self, nid: int, gfp: int, order: int) -> CompactResult:
        """try_to_compact_pages: compact the zones of ``nid`` that the request may use, highest first, until one
        yields a free block of ``order``."""
        result = CompactResult(order)
        zone_idx = G.gfp_zone(gfp)
        counters = {c["zone"]: c for c in await self.buddy.zone_counters() if c["node"] == nid}
        zones = sorted((z for z in self.layout.nodes[nid].zones if z.idx <= zone_idx), key=lambda z: -z.idx)
        tracing.event("mm_compaction_begin", order=order, gfp_flags=G.format_gfp(gfp))
        for z in zones:
            c = counters[z.name]
            if c["nr_free_pages"] - (1 << order) < c["min"] + (2 << order):   # __compaction_suitable
                continue
            result.zone = z.name
            await self.compact_zone(nid, z, order, result)
            if result.status == "success":
                break
        else:
            if result.zone:
                result.status = "fail"
        await self._count(nid, result)
        tracing.event("mm_compaction_end", **{k: v for k, v in result.to_dict().items() if k != "order"})
        tracing.annotate(compaction=f"order {order} {result.status}: migrated {result.migrated} pages, "
                                    f"scanned {result.migrate_scanned}")
        return result

    async def compact_zone(self, nid: int, zone, order: int, result: CompactResult) -> None:
        """compact_zone: the migrate scanner from the zone's start until a block is made free or the zone ends."""
        node, size = self.layout.nodes[nid], 1 << order
        cursor = -(-zone.start_pfn // size) * size
        common = dict(prefix=keys.node(nid, ""), node_start=node.start_pfn, node_end=node.end_pfn,
                      zones=self.buddy._zone_spec[nid], zone=zone.name, stop=zone.end_pfn, order=order,
                      budget=SCAN_BUDGET, trace=locks.task_id())
        while cursor + size <= zone.end_pfn:
            r = await self._isolate(self.redis, cursor=cursor, **common)
            result.migrate_scanned += r.scanned
            if r.kind == "free":
                result.status, result.block = "success", r.block
                return
            if r.kind == "none":
                result.skipped_pageblocks += r.skipped
                cursor = r.next
                continue
            n = 2 * r.pieces
            pieces = _pairs([int(x) for x in r.rest[:n]], 2)
            if await self._migrate_block(nid, r.rest[n:], pieces, result):
                result.status, result.block = "success", r.block
                return
            cursor = r.block + size
        result.status = "fail"

    async def _migrate_block(self, nid: int, movable_raw: list, pieces: list[tuple[int, int]],
                             result: CompactResult) -> bool:
        movable = [(movable_raw[i], int(movable_raw[i + 1]), int(movable_raw[i + 2]))
                   for i in range(0, len(movable_raw) - 2, 3)]
        to_free: list[tuple[int, int]] = list(pieces)
        moves: list = []
        try:
            for order in sorted({o for _, _, o in movable}):
                olds = [(k, p) for k, p, o in movable if o == order]
                a = await self.buddy.alloc_pages(order, COMPACT_GFP | (GFP_COMP if order else 0), nid=nid,
                                                 count=len(olds), ledger=("compact", locks.task_id()))
                result.free_scanned += len(olds) << order
                for (kind, old), dst in zip(olds, a.pfns):
                    moves += [kind, old, order, dst]
        except ResourceExhausted:   # no room for the destinations: give back what was taken, the block stays
            to_free += [(moves[i + 3], moves[i + 2]) for i in range(0, len(moves), 4)]
            await self.buddy.release_pages(to_free)
            return False
        r = await self._migrate(self.redis, spans=self._spans, node=nid, chunk_shift=self._cs,
                                trace=locks.task_id(), moves=moves)
        result.migrated += r.migrated
        result.ptes += r.ptes
        result.refused += r.refused
        to_free += [(pfn, order) for _, pfn, order in _pairs(r.freed, 3)]
        await self.buddy.release_pages(to_free)
        return r.refused == 0

    async def _count(self, nid: int, r: CompactResult) -> None:
        if r.status == "skipped":   # COMPACT_SKIPPED: no stall counted
            return
        pipe = self.redis.pipeline(transaction=False)
        vm = keys.node(nid, "vmstat")
        pipe.hincrby(vm, "compact_stall", 1)
        for name, v in (("compact_free_scanned", r.free_scanned), ("compact_isolated", r.migrated + r.refused + r.free_scanned)):
            if v:
                pipe.hincrby(vm, name, v)
        await pipe.execute()
