"""The buddy allocator over Redis: one Lua script per allocation attempt and per free.

Models mm/page_alloc.c. Per node (hash tag ``{node:N}``) the keys are:

* ``free:ZONE:ORDER:MT`` zset of free block head pfns (score = pfn) = free_area[order].free_list[mt].
  Blocks are taken lowest pfn first (ZRANGE 0 0), where the kernel takes the list head (LIFO);
* ``zone:ZONE`` hash: start_pfn, end_pfn, managed, min, low, high, promo, reserve:0..3
  (lowmem_reserve[]), nr_free_pages and nr_free:0..10 (free_area[o].nr_free, blocks);
* ``vmstat`` hash: pgalloc_<zone>, pgfree, allocstall_<zone>, compact_stall/fail/success and the
  simulator's own mmsim_alloc_success_order_N / mmsim_alloc_fail_order_N;
* ``pageblock`` string: one byte per pageblock (2 MiB) = its migratetype (pageblock_flags);
* ``owner`` hash: head pfn -> "order:gfp" of every live allocation (the part of mm/page_owner.c the
  allocator needs to reject a free with the wrong order or of a non-head pfn);
* ``vmemmap:C`` strings of struct page records (mmsim.allocator.vmemmap) and ``meta``.

One allocation attempt = one EVALSHA (ALLOC): the watermark checks of each zone of the zonelist
(__zone_watermark_ok), __rmqueue_smallest + expand, the migratetype fallback (__rmqueue_fallback,
simplified: a block of order >= pageblock_order is claimed for the requested type, smaller ones are
stolen without changing the pageblock), the struct page updates (post_alloc_hook/prep_new_page:
_refcount 1, PG_head + tails for __GFP_COMP, the zeroed mark for __GFP_ZERO), the owner record and the
counters. One free = one EVALSHA (FREE): every check first (free_pages_prepare / bad_page reasons),
then __free_one_page merging and the counters.

The slow path (__alloc_pages_slowpath) is Python: an allocation served below the low watermark wakes
kswapd (wake_all_kswapds, when the mask has __GFP_KSWAPD_RECLAIM); after a failed attempt, a mask with
__GFP_DIRECT_RECLAIM reclaims (``reclaim``, mmsim.allocator.vmscan.Reclaimer.slowpath: direct reclaim,
kswapd's round, the OOM killer; counted as allocstall_<zone>; for order > 0 first direct compaction,
mmsim.allocator.compaction, whose next attempt counts compact_success / compact_fail) and retries: once for __GFP_NORETRY and
for costly orders (> PAGE_ALLOC_COSTLY_ORDER) without __GFP_RETRY_MAYFAIL, MAX_RECLAIM_RETRIES (16) times
otherwise, and only one last time once reclaim has nothing left to try; then the allocation fails.
Without a reclaimer (unit tests) nothing is reclaimed.
__GFP_NOFAIL (order <= 1 in practice) retries with ALLOC_MIN_RESERVE (as __alloc_pages_cpuset_fallback
gives it) NOFAIL_RETRIES times with a short backoff so that concurrent frees can satisfy it, and only
then raises (the kernel would loop forever). Each retry is one more round trip; a successful first
attempt is exactly one.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import structlog

from mmsim.allocator import gfp as G
from mmsim.allocator.vmemmap import (
    FREE_RECORD,
    PAGE_FLAGS_CHECK_AT_FREE,
    PAGES_PER_CHUNK,
    PG,
    PG_FLAGS,
    RECORD_SIZE,
    PageDescriptor,
    buddy_record,
    build_script,
    decode_page,
)
from mmsim.allocator.zones import (
    MAX_PAGE_ORDER,
    NR_PAGE_ORDERS,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_ORDER,
    Layout,
    Zone,
)
from mmsim.runtime import keys, lua
from mmsim.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted

log = structlog.get_logger("mmsim.allocator")

GFP_COMP_BIT = int(G.GFP["__GFP_COMP"])
GFP_DIRECT_RECLAIM_BIT = int(G.GFP["__GFP_DIRECT_RECLAIM"])
GFP_KSWAPD_RECLAIM_BIT = int(G.GFP["__GFP_KSWAPD_RECLAIM"])
GFP_NOFAIL_BIT = int(G.GFP["__GFP_NOFAIL"])
GFP_NORETRY_BIT = int(G.GFP["__GFP_NORETRY"])
GFP_NOWARN_BIT = int(G.GFP["__GFP_NOWARN"])
GFP_RETRY_MAYFAIL_BIT = int(G.GFP["__GFP_RETRY_MAYFAIL"])
GFP_THISNODE_BIT = int(G.GFP["__GFP_THISNODE"])
GFP_ZERO_BIT = int(G.GFP["__GFP_ZERO"])

MAX_RECLAIM_RETRIES = 16
NOFAIL_RETRIES = 32

_FLAG_NAMES_LUA = "{" + ",".join(f"'{n}'" for n in PG_FLAGS) + "}"

_CONSTS_LUA = (f"local PG_HEAD, PG_ZEROED = {PG['head']}, {1 << 30}\nlocal FLAG_NAMES = {_FLAG_NAMES_LUA}\n"
               f"local CHECK_AT_FREE = {PAGE_FLAGS_CHECK_AT_FREE}\n")

_LIBS = build_script(_CONSTS_LUA + lua.source(__file__, "buddy"))
ALLOC = lua.SpecScript(lua.Spec("buddy_alloc", keys=("node",), args=(
    "node_start", "node_end", "order", "gfp", "mt", "count", "zones", "zonelist", "classzone", "passes", "comp",
    "zero", "stall", "final", "classzone_name", "vmalloc", "vmalloc_size", "ledger_purpose", "ledger_trace",
    "compacted"), replies={"allocated": ("pass_used:int", "*pfns:int"),
                           "vmalloc": ("pass_used:int", "area:int", "*pfns:int"), "failed": ("why",)}), __file__, _LIBS)
"""One allocation attempt (buddy_alloc.lua). KEY node: the node's key prefix ``mmsim:{node:N}:``. ARG node_start,
node_end (pfns); order; gfp (mask); mt (migratetype); count (blocks of ``order``, all or none); zones
(``NAME:start:end,...``); zonelist (``NAME,...``, highest first); classzone (zone index) and classzone_name;
passes (the alloc_flags of each watermark pass, ``,``-separated); comp, zero, stall, final (``0``/``1``:
__GFP_COMP, __GFP_ZERO, a retry after reclaim, the last attempt); vmalloc (``1``: record the pages as a
vmalloc area) and vmalloc_size (bytes); ledger_purpose (``''``: the caller owns the blocks at once, else
they are in flight, owned by the request) and ledger_trace (its trace id); compacted (``1``: the attempt
after a direct compaction, which counts compact_success / compact_fail). Replies: allocated (the 1-based
watermark pass that succeeded, each block's head pfn) | vmalloc (the same with the vmalloc area id, when
vmalloc is asked for) | failed (why: each zone's reason)."""

FREE = lua.SpecScript(lua.Spec(
    "buddy_free", keys=("node",), args=("node_start", "node_end", "order", "zones", "n", "*items"),
    replies={"freed": ("order:int", "*merged:int"), "reclaimed": ("cursor", "entries:int", "pages:int", "skipped:int")}),
    __file__, _LIBS)
"""One free (buddy_free.lua). KEY node, ARG node_start, node_end, zones as ALLOC's; order (``-1``: the order
the block was allocated with); n with items: n > 0 pfns (each block's head) -> reply freed: the order freed,
then ``head, merged order`` per block (the buddy it merged into); n = -1, items = (vmalloc area id) -> the
same for every page of the area (vfree); n = -2, items = (HSCAN cursor, deadline in ms) -> reply reclaimed:
the next cursor, ledger entries freed, pages freed, entries skipped (one batch of the in-flight ledger's
recovery pass)."""


async def _free(redis, prefix: str, node, order: int, zones: str, n: int, items) -> lua.Reply:
    return await FREE(redis, node=prefix, node_start=node.start_pfn, node_end=node.end_pfn, order=order,
                      zones=zones, n=n, items=items)


@dataclass
class Allocation:
    """Result of alloc_pages (models the struct page * the kernel returns, plus the trace)."""

    pfn: int
    order: int
    nid: int
    zone: str
    gfp_requested: int
    gfp: int  # effective, after current_gfp_context
    attempts: int
    alloc_flags: int
    pfns: tuple[int, ...] = ()
    vmalloc_area: int | None = None  # first page index of the vmalloc area (alloc_pages(vmalloc_size=...))

    @property
    def nr_pages(self) -> int:
        return 1 << self.order


@dataclass
class FreeResult:
    pfn: int
    order: int
    merged_pfn: int
    merged_order: int


def check_order(order: int) -> None:
    if not isinstance(order, int) or order < 0 or order > MAX_PAGE_ORDER:
        raise InvalidArgument(f"order {order} is out of range: valid orders are 0..MAX_PAGE_ORDER ({MAX_PAGE_ORDER})")


class BuddyAllocator:
    """Async page allocator over one redis.asyncio.Redis (decode_responses=False)."""

    def __init__(self, redis, layout: Layout, comm: str = "mmsim"):
        self.redis = redis
        self.layout = layout
        self.comm = comm
        self.reclaim = None   # mmsim.allocator.vmscan.Reclaimer, set by the allocator service
        self.compactor = None   # mmsim.allocator.compaction.Compactor, likewise (MMSIM_COMPACTION)
        self.nofail_retries = NOFAIL_RETRIES
        self._zone_spec = {
            n.nid: ",".join(f"{z.name}:{z.start_pfn}:{z.end_pfn}" for z in n.zones) for n in layout.nodes
        }

    # ---- keys -----------------------------------------------------------------------------
    @staticmethod
    def prefix(nid: int) -> str:
        return keys.node(nid, "")

    # ---- memmap_init + free everything to the buddy ---------------------------------------
    def _signature(self) -> str:
        return json.dumps(self.layout.to_dict(), sort_keys=True)

    async def init_memory(self, reset: bool = False) -> bool:
        """Models mm/mm_init.c memmap_init + memblock_free_all: every page's struct page, every zone's
        free lists as MAX_PAGE_ORDER blocks (smaller where a zone edge is unaligned), all pageblocks
        MIGRATE_MOVABLE. Idempotent: a node whose ``meta`` says ready with the same layout is left
        alone (returns False); a different layout raises FailedPrecondition unless reset=True."""
        did = False
        sig = self._signature()
        for node in self.layout.nodes:
            meta = keys.node(node.nid, "meta")
            state = await self.redis.hmget(meta, "state", "layout")
            if state[0] == b"ready" and not reset:
                if state[1] != sig.encode():
                    raise FailedPrecondition(
                        f"node {node.nid} is initialised with a different memory layout; reset it first"
                    )
                continue
            await self._delete_node(node.nid)
            await self._init_node(node)
            await self.redis.hset(meta, mapping={"state": "ready", "layout": sig})
            did = True
        return did

    async def _delete_node(self, nid: int) -> None:
        batch = []
        async for k in self.redis.scan_iter(match=keys.node(nid, "*").replace("{", "\\{").replace("}", "\\}"), count=1000):
            batch.append(k)
            if len(batch) >= 500:
                await self.redis.delete(*batch)
                batch = []
        if batch:
            await self.redis.delete(*batch)

    async def _init_node(self, node) -> None:
        nid = node.nid
        npages = node.end_pfn - node.start_pfn
        blocks: list[tuple[Zone, int, int]] = []
        for z in node.zones:
            pfn = z.start_pfn
            while pfn < z.end_pfn:
                order = MAX_PAGE_ORDER
                while order > 0 and (pfn % (1 << order) or pfn + (1 << order) > z.end_pfn):
                    order -= 1
                blocks.append((z, pfn, order))
                pfn += 1 << order
        heads = {pfn: order for _, pfn, order in blocks}
        nchunks = (npages + PAGES_PER_CHUNK - 1) // PAGES_PER_CHUNK
        pipe = self.redis.pipeline(transaction=False)
        for c in range(nchunks):
            lo = node.start_pfn + c * PAGES_PER_CHUNK
            n = min(PAGES_PER_CHUNK, node.end_pfn - lo)
            buf = bytearray(FREE_RECORD * n)
            for pfn in range(lo, lo + n):
                o = heads.get(pfn)
                if o is not None:
                    off = (pfn - lo) * RECORD_SIZE
                    buf[off : off + RECORD_SIZE] = buddy_record(o, G.MIGRATE_MOVABLE)
            pipe.set(keys.node(nid, f"vmemmap:{c}"), bytes(buf))
            if c % 32 == 31:
                await pipe.execute()
        npb = (npages + (1 << PAGEBLOCK_ORDER) - 1) >> PAGEBLOCK_ORDER
        pipe.set(keys.node(nid, "pageblock"), bytes([G.MIGRATE_MOVABLE]) * npb)
        by_list: dict[tuple[str, int], dict] = {}
        for z, pfn, order in blocks:
            by_list.setdefault((z.name, order), {})[str(pfn)] = pfn
        for (zname, order), members in by_list.items():
            pipe.zadd(keys.node(nid, f"free:{zname}:{order}:{G.MIGRATE_MOVABLE}"), members)
        for z in node.zones:
            counts = {o: 0 for o in range(NR_PAGE_ORDERS)}
            for zz, _, order in blocks:
                if zz is z:
                    counts[order] += 1
            h = {
                "start_pfn": z.start_pfn, "end_pfn": z.end_pfn, "spanned": z.spanned, "present": z.present,
                "managed": z.managed, "min": z.min, "low": z.low, "high": z.high, "promo": z.promo,
                "nr_free_pages": z.managed,
            }  # fmt: skip
            for j in range(4):
                h[f"reserve:{j}"] = z.lowmem_reserve[j]
            for o in range(NR_PAGE_ORDERS):
                h[f"nr_free:{o}"] = counts[o]
            pipe.hset(keys.node(nid, f"zone:{z.name}"), mapping=h)
        await pipe.execute()

    # ---- allocation ---------------------------------------------------------------------
    def _highest_zone(self, nid: int, zone_idx: int) -> int:
        return zone_idx

    async def _attempt(self, nid, order, gfp, mt, count, zonelist, classzone, passes, comp, zero, stall, final,
                       vmalloc_size=0, ledger=("", ""), compacted=False) -> lua.Reply:  # fmt: skip
        """One ALLOC attempt on node ``nid``: its reply (allocated | vmalloc | failed)."""
        node = self.layout.nodes[nid]
        return await ALLOC(
            self.redis, node=self.prefix(nid), node_start=node.start_pfn, node_end=node.end_pfn, order=order,
            gfp=gfp, mt=mt, count=count, zones=self._zone_spec[nid], zonelist=",".join(z.name for z in zonelist),
            classzone=classzone, classzone_name=G.ZONE_NAMES[classzone].lower(),
            passes=",".join(str(p) for p in passes), comp=int(comp), zero=int(zero), stall=int(stall),
            final=int(final), vmalloc=int(vmalloc_size > 0), vmalloc_size=vmalloc_size, ledger_purpose=ledger[0],
            ledger_trace=ledger[1], compacted=int(compacted))  # fmt: skip

    async def alloc_pages(
        self, order: int, gfp: int = G.GFP_KERNEL, *, nid: int = 0, scope: int = 0, count: int = 1,
        vmalloc_size: int = 0, ledger: tuple[str, str] = ("", ""),
    ) -> Allocation:
        """Models mm/page_alloc.c __alloc_pages (fast path) and __alloc_pages_slowpath (retries).

        ``count`` > 1 allocates that many blocks of ``order`` in the same round trip, all or none
        (alloc_pages_bulk, used by vmalloc). Raises ResourceExhausted on failure, after the warn_alloc
        report unless __GFP_NOWARN (page->mapping and ->index are the page cache's to set, in
        __filemap_add_folio); __GFP_ZERO
        deletes the node's ``mem:PFN`` data key of the head (absent = zeros) and sets PG_zeroed(mmsim).

        ``ledger`` = (purpose, trace id): the block is in flight, recorded in the node's ledger (ledger.lua) in
        the same step, until a consumer (AddFolio, the COW install) takes it over or FreePages ends it."""
        check_order(order)
        if nid < 0 or nid >= len(self.layout.nodes):
            raise InvalidArgument(f"node {nid} does not exist (nodes 0..{len(self.layout.nodes) - 1})")
        total = self.layout.total_pages
        if count < 1 or count << order > total:
            raise InvalidArgument(
                f"request of {count} block(s) of order {order} = {count << order} pages is not 1..{total} pages (all of memory)"
            )
        requested = int(gfp)
        gfp = G.current_gfp_context(requested, scope)
        zone_idx = G.gfp_zone(gfp)
        mt = G.gfp_migratetype(gfp)
        # classzone: the highest populated zone <= gfp_zone on this node
        nodes = [nid] if gfp & GFP_THISNODE_BIT else [nid] + [n.nid for n in self.layout.nodes if n.nid != nid]
        slow = G.gfp_to_alloc_flags(gfp, order)
        comp = bool(gfp & GFP_COMP_BIT)
        zero = bool(gfp & GFP_ZERO_BIT)
        can_reclaim = bool(gfp & GFP_DIRECT_RECLAIM_BIT)
        nofail = bool(gfp & GFP_NOFAIL_BIT)
        if not can_reclaim:
            retries = 0
        elif gfp & GFP_NORETRY_BIT or (order > PAGE_ALLOC_COSTLY_ORDER and not gfp & GFP_RETRY_MAYFAIL_BIT):
            retries = 1
        else:
            retries = MAX_RECLAIM_RETRIES
        if nofail:
            retries = max(retries, self.nofail_retries)
        why = ""
        attempts = 0
        attempt, give_up, compacted = 0, False, False
        while True:
            passes = [G.FAST_PATH_ALLOC_FLAGS, slow] if attempt == 0 else [slow]
            if nofail and attempt > 0:
                passes = [slow | G.ALLOC_MIN_RESERVE]
            final = attempt == retries or give_up
            for i, n in enumerate(nodes):
                zl = [z for z in self.layout.nodes[n].zones if z.idx <= zone_idx]
                if not zl:
                    continue
                zl.sort(key=lambda z: -z.idx)
                classzone = zl[0].idx
                attempts += 1
                res = await self._attempt(
                    n, order, gfp, mt, count, zl, classzone, passes, comp, zero,
                    attempt > 0 and i == 0, final and i == len(nodes) - 1, vmalloc_size, ledger, compacted and i == 0,
                )  # fmt: skip
                if res.kind != "failed":
                    if self.reclaim is not None and gfp & GFP_KSWAPD_RECLAIM_BIT and (attempt or res.pass_used > 1):
                        self.reclaim.wakeup_kswapd(n)   # below the low watermark: wake_all_kswapds
                    return Allocation(
                        pfn=res.pfns[0], order=order, nid=n, zone=self.layout.zone_of_pfn(res.pfns[0]).name,
                        gfp_requested=requested, gfp=gfp, attempts=attempts, alloc_flags=passes[res.pass_used - 1],
                        pfns=tuple(res.pfns), vmalloc_area=res.area if res.kind == "vmalloc" else None,
                    )  # fmt: skip
                why = res.why
            if final:
                break
            compacted, made = False, False
            if self.compactor is not None and can_reclaim and order > 0:
                # __alloc_pages_direct_compact: migrate movable pages out of a block; the next attempt counts
                # compact_success or compact_fail (compacted); a block made free needs no reclaim first
                status = (await self.compactor.try_to_compact_pages(nid, gfp, order)).status
                compacted, made = status != "skipped", status == "success"
            if not made and self.reclaim is not None and can_reclaim:
                # direct reclaim, kswapd's round, the OOM killer; nothing left to try: one last attempt
                give_up = not await self.reclaim.slowpath(nid, gfp, order) and not nofail
            await asyncio.sleep(min(0.001 * (2**attempt), 0.05) if nofail else 0)
            attempt += 1
        msg = f"page allocation failure: order:{order}, mode:{G.describe_gfp(gfp)}, nodemask=(null)"
        if not gfp & GFP_NOWARN_BIT:
            log.warning(f"{self.comm}: {msg}", order=order, gfp=gfp, requested_gfp=requested, why=why)
        detail = f"{msg}: {why}" if why else msg
        if nofail:
            detail += f" (__GFP_NOFAIL gave up after {retries} retries; the kernel would loop forever)"
        raise ResourceExhausted(detail)

    # ---- free ---------------------------------------------------------------------------
    async def free_pages(self, pfn: int, order: int) -> FreeResult:
        """Models __free_pages(page, order): the allocation's reference is dropped and the block goes
        back to the buddy (__free_one_page), after free_pages_prepare's bad_page checks."""
        r = await self.free_pages_bulk([pfn], order)
        return r[0]

    async def free_pages_bulk(self, pfns: list[int], order: int = 0) -> list[FreeResult]:
        """Free several blocks of one order on one node in one round trip (all checked first)."""
        check_order(order)
        if not pfns:
            return []
        if len(set(pfns)) != len(pfns):
            raise FailedPrecondition("bad page: the same pfn is freed twice in one call")
        nids = set()
        for pfn in pfns:
            self._check_pfn(pfn)
            nids.add(self.layout.node_of_pfn(pfn).nid)
        if len(nids) != 1:
            out = []
            for nid in sorted(nids):
                out += await self.free_pages_bulk([p for p in pfns if self.layout.node_of_pfn(p).nid == nid], order)
            return out
        nid = nids.pop()
        node = self.layout.nodes[nid]
        m = (await _free(self.redis, self.prefix(nid), node, order, self._zone_spec[nid], len(pfns), pfns)).merged
        return [FreeResult(pfn, order, m[2 * i], m[2 * i + 1]) for i, pfn in enumerate(pfns)]

    async def release_pages(self, blocks: list[tuple[int, int]]) -> int:
        """release_pages: free (pfn, order) blocks, one round trip per node and order; returns pages freed."""
        by_order: dict[int, list[int]] = {}
        for pfn, order in blocks:
            by_order.setdefault(order, []).append(pfn)
        for order, pfns in sorted(by_order.items()):
            await self.free_pages_bulk(pfns, order)
        return sum(1 << order for _, order in blocks)

    async def free_pages_any_order(self, pfn: int) -> FreeResult:
        """Free the allocation headed by pfn at its recorded order (kfree / folio_put of the last ref)."""
        self._check_pfn(pfn)
        node = self.layout.node_of_pfn(pfn)
        r = await _free(self.redis, self.prefix(node.nid), node, -1, self._zone_spec[node.nid], 1, [pfn])
        return FreeResult(pfn, r.order, r.merged[0], r.merged[1])

    async def free_vmalloc_area(self, nid: int, area: int) -> int:
        """vfree: free every page of a vmalloc area and its record in one round trip; returns pages freed."""
        node = self.layout.nodes[nid]
        r = await _free(self.redis, self.prefix(nid), node, 0, self._zone_spec[nid], -1, [area])
        return len(r.merged) // 2

    async def reclaim_ledger(self, deadline_ms: int) -> int:
        """The recovery pass: give every in-flight block older than ``deadline_ms`` back to the buddy lists
        (counted in vmstat as mmsim_ledger_reclaimed, pages). One bounded script per 128 ledger entries."""
        pages = 0
        for node in self.layout.nodes:
            cursor = "0"
            while True:
                r = await _free(self.redis, self.prefix(node.nid), node, 0, self._zone_spec[node.nid], -2,
                                [cursor, deadline_ms])
                cursor, pages = r.cursor, pages + r.pages
                if cursor == "0":
                    break
        if pages:
            log.warning("ledger: reclaimed abandoned in-flight allocations", pages=pages, deadline_ms=deadline_ms)
        return pages

    def _check_pfn(self, pfn: int) -> None:
        if not isinstance(pfn, int) or pfn < 0 or pfn >= self.layout.total_pages:
            raise NotFound(f"pfn {pfn} is outside memory (valid pfns are 0..{self.layout.total_pages - 1})")

    # ---- inspection ---------------------------------------------------------------------
    async def read_record(self, pfn: int) -> bytes:
        self._check_pfn(pfn)
        node = self.layout.node_of_pfn(pfn)
        rel = pfn - node.start_pfn
        off = (rel % PAGES_PER_CHUNK) * RECORD_SIZE
        raw = await self.redis.getrange(keys.node(node.nid, f"vmemmap:{rel // PAGES_PER_CHUNK}"), off, off + RECORD_SIZE - 1)
        if len(raw) != RECORD_SIZE:
            raise FailedPrecondition(f"vmemmap of pfn {pfn} is not initialised (memmap_init not run)")
        return raw

    async def get_page(self, pfn: int) -> PageDescriptor:
        """Decode struct page of ``pfn`` (GetPage): the union member in use, owner, folio order."""
        raw = await self.read_record(pfn)
        node = self.layout.node_of_pfn(pfn)
        zone = self.layout.zone_of_pfn(pfn)
        w2 = int.from_bytes(raw[24:32], "little", signed=True)
        names = {}
        if w2 > 0 and not w2 & 1:
            name = await self.redis.hget(keys.node(node.nid, "intern"), f"i:{w2}")
            if name:
                names[w2] = name.decode()
        d = decode_page(pfn, raw, node.nid, zone.name, names)
        head = pfn
        if d.member == "compound_tail":
            head = d.words[0] >> 1
        own = await self.redis.hget(keys.node(node.nid, "owner"), head)
        if own:
            o, g = (int(x) for x in own.decode().split(":"))
            d.owner = {"head_pfn": head, "order": o, "gfp": g, "mode": G.describe_gfp(g)}
            if d.member == "compound_tail" or d.flags & PG["head"]:
                d.folio_order = o
        elif d.member == "buddy":
            d.folio_order = 0
        return d

    async def zone_counters(self) -> list[dict]:
        """Every populated zone's hash (node, zone, watermarks, nr_free per order...), as ints."""
        pipe = self.redis.pipeline(transaction=False)
        zl = self.layout.zones()
        for z in zl:
            pipe.hgetall(keys.node(z.node, f"zone:{z.name}"))
        out = []
        for z, h in zip(zl, await pipe.execute()):
            d = {k.decode(): int(v) for k, v in h.items()}
            d["node"] = z.node
            d["zone"] = z.name
            out.append(d)
        return out

    async def free_list_counts(self) -> list[dict]:
        """Per node, zone, migratetype: the number of free blocks of each order (pagetypeinfo)."""
        pipe = self.redis.pipeline(transaction=False)
        rows = []
        for z in self.layout.zones():
            for mt in range(G.MIGRATE_PCPTYPES):
                rows.append((z, mt))
                for o in range(NR_PAGE_ORDERS):
                    pipe.zcard(keys.node(z.node, f"free:{z.name}:{o}:{mt}"))
        res = await pipe.execute()
        out = []
        for i, (z, mt) in enumerate(rows):
            out.append({"node": z.node, "zone": z.name, "migratetype": mt, "counts": res[i * NR_PAGE_ORDERS : (i + 1) * NR_PAGE_ORDERS]})
        return out

    async def vmstat_events(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for n in self.layout.nodes:
            pipe.hgetall(keys.node(n.nid, "vmstat"))
        total: dict[str, int] = {}
        for h in await pipe.execute():
            for k, v in h.items():
                total[k.decode()] = total.get(k.decode(), 0) + int(v)
        return total

    async def free_blocks(self, nid: int, zone: str) -> dict[int, set[int]]:
        """order -> set of free block head pfns (all migratetypes) of one zone (tests, fragment)."""
        pipe = self.redis.pipeline(transaction=False)
        for o in range(NR_PAGE_ORDERS):
            for mt in range(G.MIGRATE_PCPTYPES):
                pipe.zrange(keys.node(nid, f"free:{zone}:{o}:{mt}"), 0, -1)
        res = await pipe.execute()
        out: dict[int, set[int]] = {}
        for o in range(NR_PAGE_ORDERS):
            s: set[int] = set()
            for mt in range(G.MIGRATE_PCPTYPES):
                s |= {int(x) for x in res[o * G.MIGRATE_PCPTYPES + mt]}
            out[o] = s
        return out
