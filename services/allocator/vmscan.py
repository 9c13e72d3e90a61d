"""Page reclaim: kswapd, direct reclaim and the OOM killer, driven by the allocator's slow path.

Models mm/vmscan.c (try_to_free_pages, shrink_node, balance_pgdat / kswapd, wakeup_kswapd, pageout,
reclaim_throttle), mm/oom_kill.c (out_of_memory, select_bad_process, oom_badness, oom_kill_process) and the
part of mm/page_alloc.c __alloc_pages_slowpath that calls them (wake_all_kswapds, __alloc_pages_direct_reclaim,
__alloc_pages_may_oom).

The work on the lists is one Lua script per pass (``vmscan.lua``: shrink_active_list, shrink_inactive_list,
shrink_folio_list, folio_check_references, try_to_unmap through the reverse map's walk, __remove_mapping with
a workingset shadow), at most one pass per priority (DEF_PRIORITY .. 0) until the target is reclaimed. A pass
frees nothing itself: the folios it took from the page cache are in the in-flight ledger ('cache-free') and
are given back to the buddy lists in one more round trip (a reclaimer that dies in between leaves them to
the ledger's recovery pass). Dirty folios it may write (the effective gfp has __GFP_FS and __GFP_IO:
may_enter_fs) are handed to the filesystem (FilesystemService.Pageout, one hop per file); the next pass
finds them clean at the tail of the inactive list and drops them. Without __GFP_FS (GFP_NOFS, a
memalloc_nofs_save scope) they are skipped, as shrink_folio_list keeps them (counted, and shown in the trace).

Anonymous pages are on their own LRU lists (lru:inactive_anon / lru:active_anon, kept by the reverse map:
folio_add_lru_vma when a COW fault makes one, lruvec_del_folio when its last reference goes), but mmsim has no
swap: get_scan_count answers SCAN_FILE (can_reclaim_anon_pages is false without swap space), so a pass scans
only the file lists, and shrink_lruvec does not age the anon lists either (can_age_anon_pages: no swap, no
demotion). Anonymous pages are never reclaimed; when the file lists are empty only the OOM killer frees them.

Simplifications, said plainly: no memcg, no swap, no MGLRU. Direct reclaim writes dirty file folios
itself when its mask allows (the pre-5.x behaviour; current kernels leave file writeback to kswapd and the
flushers); kswapd writes them with GFP_KERNEL. A high-order request reclaims max(SWAP_CLUSTER_MAX, 2**order)
pages after direct compaction (mmsim.allocator.compaction) could not make its block.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field

import grpc
import structlog

from mmsim.allocator import gfp as G
from mmsim.allocator.vmemmap import MAPPING_SHARED, PG, build_script, node_spans
from mmsim.allocator.zones import PAGE_ALLOC_COSTLY_ORDER
from mmsim.pagecache.filemap import FILEMAP_LUA
from mmsim.rmap.lua import RMAP_LUA_LIB, RMAP_WALK_LUA_LIB
from mmsim.runtime import inject, keys, locks, tracing
from mmsim.runtime.kthread import Kthreads
from mmsim.runtime.lua import Spec, SpecScript
from mmsim.runtime.wire import gfp_to_proto
from mmsim.v1 import filesystem_pb2

log = structlog.get_logger("mmsim.vmscan")

DEF_PRIORITY = 12
SWAP_CLUSTER_MAX = 32
MAX_RECLAIM_RETRIES = 16
"""kswapd rounds in a row without progress after which the node is hopeless (pgdat->kswapd_failures): kswapd
ignores wake-ups until some reclaim makes progress there again."""
KTHREAD_STOP_TIMEOUT_S = 1.0   # how long a service's shutdown waits for its kswapd tasks to end
RECLAIM_LIBS = "\n".join([FILEMAP_LUA, f"local MAPPING_SHARED = {MAPPING_SHARED}", RMAP_LUA_LIB, RMAP_WALK_LUA_LIB])
"""The libraries of a script that changes page-cache folios and their PTEs together (reclaim, compaction)."""
_PASS_FIELDS = ("scanned", "reclaimed", "activated", "deactivated", "refill", "dirty", "dirty_skipped", "writeback",
                "unmap_fail", "ptes_unmapped", "busy", "ref_keep", "shadows")
SHRINK = SpecScript(Spec("vmscan", args=("chunk_shift", "spans", "node", "priority", "nr_to_reclaim", "may_writepage",
                                         "kswapd", "task"),
                         replies={"scanned": ("lru:int", *(f"{f}:int" for f in _PASS_FIELDS), "n_pageout:int", "*rest")}),
                    __file__, "\n".join([RECLAIM_LIBS, f"local VS_PG = {{referenced = {PG['referenced']}, workingset = "
                                                     f"{PG['workingset']}, reclaim = {PG['reclaim']}}}"]))
"""vmscan.lua, one pass of shrink_node at one priority. ARG chunk_shift, spans (node_spans), node, priority,
nr_to_reclaim (pages), may_writepage (1: the effective gfp has __GFP_FS and __GFP_IO), kswapd (1, or 0: direct
reclaim), task (mmsim.runtime.locks.task_id). Reply: scanned (the lists' pages before the pass, the pass's
counts, n_pageout; rest: (mapping, index, nr_pages) of each folio to write back, then (node, pfn, order) of
every folio to free)."""
OOM_KILL = SpecScript(Spec("oom_kill", keys=("procs",), args=("spans", "gfp", "order"), replies={
    "none": (), "killed": ("pid:int", "comm", "points:int", "message", "evictable", "*freed:int")}),
    __file__, build_script(f"local MAPPING_SHARED = {MAPPING_SHARED}\n" + RMAP_LUA_LIB))
"""oom_kill.lua. KEY procs (the cluster's process set); ARG spans (node_spans), gfp (the report's gfp text),
order. Replies: none (no process has memory to give) | killed (the victim's pid, comm, oom_badness points,
the kernel's message, the files only its mappings kept (space-separated), (node, pfn, order) of every folio
to free)."""
FS_IO = int(G.__GFP_FS | G.__GFP_IO)
# (module-level: inside the class body the __GFP_ names would be mangled)
GFP_FS = int(G.__GFP_FS)
GFP_KSWAPD_RECLAIM = int(G.__GFP_KSWAPD_RECLAIM)
NO_OOM = int(G.__GFP_NORETRY | G.__GFP_RETRY_MAYFAIL | G.__GFP_THISNODE)
"""__alloc_pages_may_oom does not kill for these (the slow path gives up before it for __GFP_NORETRY)."""



@dataclass
class ReclaimStats:
    """What one reclaim (direct or a kswapd round) did; pages unless named otherwise (the fields of the
    mm_vmscan_lru_shrink_inactive tracepoint, plus the pageout's outcome)."""

    scanned: int = 0          # inactive pages looked at (pgscan_*)
    reclaimed: int = 0        # pages freed (pgsteal_*)
    activated: int = 0        # pages moved to the active list (pgactivate)
    deactivated: int = 0      # pages moved from the active to the inactive list (pgdeactivate)
    refill: int = 0           # active pages looked at (pgrefill)
    dirty: int = 0            # dirty pages met
    dirty_skipped: int = 0    # dirty pages kept because the mask has no __GFP_FS / __GFP_IO
    writeback: int = 0        # pages under writeback met
    unmap_fail: int = 0       # mapped pages try_to_unmap could not free (pinned)
    ptes_unmapped: int = 0    # PTEs zapped by try_to_unmap (units: PTEs)
    busy: int = 0             # clean pages kept because a writer holds their file
    ref_keep: int = 0         # pages kept because a PTE referenced them once
    shadows: int = 0          # workingset shadow entries left (units: entries)
    pageout_folios: int = 0   # dirty folios handed to the filesystem (units: folios)
    pageout_written: int = 0  # of those, written back (units: folios)
    passes: int = 0           # vmscan.lua passes (units: Redis round trips)
    pageout_errors: list[str] = field(default_factory=list)   # why a pageout failed, one line per file

    def add_pass(self, values: list[int]) -> None:
        for name, v in zip(_PASS_FIELDS, values):
            setattr(self, name, getattr(self, name) + v)
        self.passes += 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class OomVictim:
    pid: int
    comm: str
    points: int               # oom_badness (units: pages)
    message: str              # the kernel's "Out of memory: Killed process ..." line
    pages_freed: int          # pages given back at once (anonymous pages, file pages no one else had)


def _s(x) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


def _triples(items) -> list[tuple[int, int, int]]:
    vals = [int(_s(x)) for x in items]
    return [(vals[i], vals[i + 1], vals[i + 2]) for i in range(0, len(vals) - 2, 3)]


class Reclaimer:
    """The reclaim of one allocator process: a kswapd task per node and the slow path's direct reclaim."""

    def __init__(self, buddy, ctx):
        """``ctx``: the service's context (its peers, settings and Redis)."""
        self.buddy = buddy
        self.redis = buddy.redis
        self.layout = buddy.layout
        self._ctx = ctx
        self.peers = ctx.peers
        self.kthreads = Kthreads(ctx.redis, ctx.settings.lock_lease_ms)
        self._cs = ctx.settings.xa_chunk_shift
        self._spans = node_spans(self.layout)
        self._wake = {n.nid: asyncio.Event() for n in self.layout.nodes}
        self._rounds = {n.nid: 0 for n in self.layout.nodes}
        self._running = {n.nid: False for n in self.layout.nodes}
        self._failures = {n.nid: 0 for n in self.layout.nodes}
        self._round_done = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []

    # ---- the passes ----------------------------------------------------------------------------
    async def shrink_node(self, nid: int, gfp: int, nr_to_reclaim: int, kswapd: bool) -> ReclaimStats:
        """shrink_node for the file lists of ``nid``, priority DEF_PRIORITY down to 0, until ``nr_to_reclaim``
        pages are reclaimed or a pass finds the lists empty."""
        stats = ReclaimStats()
        may_writepage = gfp & FS_IO == FS_IO
        refused: set[str] = set()   # files whose pageout failed in this call: not asked again
        for priority in range(DEF_PRIORITY, -1, -1):
            r = await SHRINK(self.redis, chunk_shift=self._cs, spans=self._spans, node=nid, priority=priority,
                             nr_to_reclaim=nr_to_reclaim - stats.reclaimed, may_writepage=int(may_writepage),
                             kswapd=int(kswapd), task=locks.task_id())
            lru, values = r.lru, [r[f] for f in _PASS_FIELDS]
            stats.add_pass(values)
            n_out = r.n_pageout
            pageouts = [(r.rest[i], int(r.rest[i + 1])) for i in range(0, 3 * n_out, 3)]
            if kswapd:
                await inject.pause_point(self._ctx, "kswapd:pass")   # the pass took its folios, the free is next
            await self.free_folios(_triples(r.rest[3 * n_out:]))
            tracing.event("mm_vmscan_lru_shrink_inactive", nid=nid, priority=priority,
                          **dict(zip(_PASS_FIELDS, values)), pageout=n_out)
            if pageouts:
                await self._pageout(pageouts, gfp, stats, refused)
            if stats.reclaimed >= nr_to_reclaim or lru == 0:
                break
        if stats.reclaimed:
            self._failures[nid] = 0   # shrink_node: reclaimable again, kswapd may run
        return stats

    async def _pageout(self, folios: list[tuple[str, int]], gfp: int, stats: ReclaimStats, refused: set[str]) -> None:
        """pageout: one FilesystemService.Pageout per file. A refusal (the task holds the file's lock: EDEADLK,
        or another task holds it) leaves the folios dirty; the next pass activates them."""
        by_file: dict[str, list[int]] = {}
        for mapping, index in folios:
            by_file.setdefault(mapping, []).append(index)
        stats.pageout_folios += len(folios)
        for mapping, indices in sorted(by_file.items()):
            if mapping in refused:
                continue
            try:
                r = await self.peers.stub("filesystem").Pageout(filesystem_pb2.PageoutRequest(
                    mapping=mapping, indices=indices, gfp=gfp_to_proto(gfp)))
            except grpc.aio.AioRpcError as exc:
                why = f"{mapping}: {exc.code().name}: {exc.details()}"
                stats.pageout_errors.append(why)
                refused.add(mapping)
                tracing.event("pageout_failed", mapping=mapping, folios=len(indices), status=exc.code().name,
                              reason=exc.details() or "")
                continue
            stats.pageout_written += r.folios_written
        if stats.pageout_written:
            await self.redis.hincrby(keys.node(0, "vmstat"), "nr_vmscan_write", stats.pageout_written)

    async def free_folios(self, folios: list[tuple[int, int, int]]) -> None:
        """__free_pages of what a pass or the OOM killer let go (their ledger entries end with the free)."""
        await self.buddy.release_pages([(pfn, order) for _node, pfn, order in folios])

    # ---- direct reclaim ------------------------------------------------------------------------
    async def try_to_free_pages(self, nid: int, gfp: int, order: int) -> ReclaimStats:
        """try_to_free_pages: the preferred node first, then the others, until SWAP_CLUSTER_MAX (or the
        request's 2**order) pages are reclaimed."""
        want = max(SWAP_CLUSTER_MAX, 1 << order)
        total = ReclaimStats()
        tracing.event("mm_vmscan_direct_reclaim_begin", order=order, gfp_flags=G.format_gfp(gfp))
        for n in [nid] + [x.nid for x in self.layout.nodes if x.nid != nid]:
            st = await self.shrink_node(n, gfp, want - total.reclaimed, kswapd=False)
            for name in (*_PASS_FIELDS, "pageout_folios", "pageout_written", "passes"):
                setattr(total, name, getattr(total, name) + getattr(st, name))
            total.pageout_errors += st.pageout_errors
            if total.reclaimed >= want:
                break
        tracing.event("mm_vmscan_direct_reclaim_end", nr_reclaimed=total.reclaimed)
        tracing.annotate(direct_reclaim=f"scanned {total.scanned} reclaimed {total.reclaimed} dirty "
                                        f"{total.dirty} dirty_skipped {total.dirty_skipped} pageout "
                                        f"{total.pageout_written}/{total.pageout_folios}")
        return total

    async def slowpath(self, nid: int, gfp: int, order: int) -> bool:
        """What __alloc_pages_slowpath does after a failed attempt with __GFP_DIRECT_RECLAIM: wake kswapd,
        reclaim directly, wait for kswapd's round when that freed nothing (reclaim_throttle), then
        __alloc_pages_may_oom. True when another attempt is worth making."""
        if gfp & GFP_KSWAPD_RECLAIM:
            for n in self.layout.nodes:
                self.wakeup_kswapd(n.nid)
        stats = await self.try_to_free_pages(nid, gfp, order)
        if stats.reclaimed:
            return True
        if self._tasks and await self.throttle(nid):
            return True
        if order > PAGE_ALLOC_COSTLY_ORDER or gfp & NO_OOM:
            return False
        if not gfp & GFP_FS:
            # out_of_memory: "The OOM killer does not compensate for IO-less reclaim"
            tracing.event("oom_skipped", reason="no __GFP_FS: the OOM killer does not compensate for IO-less reclaim")
            return False
        return await self.out_of_memory(gfp, order) is not None

    async def throttle(self, nid: int) -> bool:
        """reclaim_throttle: wait for the kswapd round that starts after now to end; True if it reclaimed."""
        if self._failures[nid] >= MAX_RECLAIM_RETRIES:
            return False   # kswapd gave the node up: there is no round to wait for
        target = self._rounds[nid] + (2 if self._running[nid] else 1)   # a round under way started before now
        before = await self._free_pages(nid)
        self.wakeup_kswapd(nid)
        async with self._round_done:
            await self._round_done.wait_for(lambda: self._rounds[nid] >= target or not self._tasks)
        return await self._free_pages(nid) > before

    # ---- the OOM killer ------------------------------------------------------------------------
    async def out_of_memory(self, gfp: int, order: int) -> OomVictim | None:
        """out_of_memory: kill the process with the highest oom_badness and free what it held."""
        r = await OOM_KILL(self.redis, procs=keys.cluster("procs"), spans=self._spans, gfp=G.describe_gfp(gfp),
                           order=order)
        if r.kind == "none":
            tracing.event("oom", victim="none", reason="no process holds memory")
            return None
        pid, comm, points, msg, evictable = r.pid, r.comm, r.points, r.message, r.evictable
        freed = _triples(r.freed)
        await self.free_folios(freed)
        for mapping in evictable.split():
            await self.peers.stub("filesystem").EvictInode(filesystem_pb2.EvictInodeRequest(mapping=mapping))
        victim = OomVictim(pid, comm, points, msg, sum(1 << o for _, _, o in freed))
        log.error(msg, pid=pid, points=points, pages_freed=victim.pages_freed)
        tracing.event("oom_kill", pid=pid, comm=comm, points=points, message=msg, pages_freed=victim.pages_freed)
        tracing.annotate(oom_kill=msg)
        return victim

    # ---- kswapd -----------------------------------------------------------------------------------
    def wakeup_kswapd(self, nid: int) -> None:
        """wakeup_kswapd: not for a hopeless node (MAX_RECLAIM_RETRIES rounds without progress)."""
        if self._failures[nid] < MAX_RECLAIM_RETRIES:
            self._wake[nid].set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._kswapd(n.nid), name=f"kswapd{n.nid}") for n in self.layout.nodes]

    async def _free_pages(self, nid: int) -> int:
        return sum(z["nr_free_pages"] for z in await self.buddy.zone_counters() if z["node"] == nid)

    async def balance_pgdat(self, nid: int) -> ReclaimStats:
        """balance_pgdat: reclaim with GFP_KERNEL until every zone of the node is above its high watermark,
        or a round makes no progress."""
        total = ReclaimStats()
        while True:
            zones = [z for z in await self.buddy.zone_counters() if z["node"] == nid]
            deficit = sum(max(0, z["high"] - z["nr_free_pages"]) for z in zones)
            if deficit <= 0:
                break
            await self.redis.hincrby(keys.node(nid, "vmstat"), "pageoutrun", 1)
            async with self.kthreads.running(f"kswapd{nid}"):   # kthread_parkme: not while a check runs
                st = await self.shrink_node(nid, int(G.GFP_KERNEL), max(deficit, SWAP_CLUSTER_MAX), kswapd=True)
            total.reclaimed += st.reclaimed
            total.scanned += st.scanned
            total.pageout_written += st.pageout_written
            if not st.reclaimed and not st.pageout_written:
                break
        return total

    async def _kswapd(self, nid: int) -> None:
        while True:
            await self._wake[nid].wait()
            self._wake[nid].clear()
            self._running[nid] = True
            try:
                st = await self.balance_pgdat(nid)
                self._failures[nid] = 0 if st.reclaimed else self._failures[nid] + 1
                if st.scanned:
                    log.info("kswapd", nid=nid, scanned=st.scanned, reclaimed=st.reclaimed,
                             pageout_written=st.pageout_written)
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # Redis or a peer unavailable: this round ends, the next wake-up retries
                log.warning("kswapd round failed", nid=nid, error=str(exc))
            self._running[nid] = False
            async with self._round_done:
                self._rounds[nid] += 1
                self._round_done.notify_all()

    async def stop(self) -> None:
        """kthread_stop of every kswapd: cancelled, and waited for until each has ended, for at most
        KTHREAD_STOP_TIMEOUT_S (a pass ends by telling Redis so: a Redis that does not answer must not hold
        the service's shutdown)."""
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=KTHREAD_STOP_TIMEOUT_S)
        async with self._round_done:
            self._round_done.notify_all()
