"""AllocatorService: the one object the gRPC server (services/allocator/server.py) calls.

Wires BuddyAllocator (buddy.py), KvMalloc (kvmalloc.py), the /proc formatters (procfs.py), the
fragmenter (fragment.py) and the struct page reference operations (vmemmap.py's Lua library) over one
redis.asyncio.Redis (decode_responses=False). Every method is a coroutine and raises only
mmsim.runtime.errors classes for bad input or failed allocations.
"""

from __future__ import annotations


from mmsim.allocator import fragment as frag
from mmsim.allocator import gfp as G
from mmsim.allocator import procfs
from mmsim.allocator.buddy import Allocation, BuddyAllocator, FreeResult
from mmsim.allocator.kvmalloc import KvAllocation, KvMalloc
from mmsim.allocator.vmemmap import VMEMMAP_LUA_LIB, PageDescriptor
from mmsim.allocator.zones import Layout
from mmsim.runtime import epoch, keys
from mmsim.runtime.config import Settings
from mmsim.runtime.lua import Spec, SpecScript

RESET = SpecScript(Spec("reset", args=("pattern", "epoch", "alive"), replies={"reset": ("deleted:int",)}), __file__)
"""reset.lua. ARG pattern (every mmsim key: ``mmsim:*``), epoch (the boot epoch's key, kept), alive (the
heartbeat keys' prefix, kept). Reply: reset (keys deleted)."""

PAGE_OP = SpecScript(Spec("page_op", keys=("node",), args=("node_start", "node_end", "op", "pfn", "arg"),
                          replies={"ok": ("result:int",)}), __file__, VMEMMAP_LUA_LIB)
"""page_op.lua. KEY node (the node's key prefix); ARG node_start, node_end (pfns), op (ref_add, try_get,
mapcount_add, ref_freeze), pfn, arg (the delta, or the expected count). Reply: ok (the operation's result)."""


class AllocatorService:
    def __init__(self, redis, layout: Layout, profile: str = "lsfmm2018", comm: str = "mmsim"):
        self.redis = redis
        self.layout = layout
        self.buddy = BuddyAllocator(redis, layout, comm=comm)
        self.kv = KvMalloc(self.buddy, profile)

    @classmethod
    async def open(cls, redis, settings: Settings | None = None, *, memory_bytes: int | None = None,
                   nodes: int | None = None, movable_bytes: int | None = None, profile: str | None = None,
                   reset: bool = False) -> "AllocatorService":  # fmt: skip
        """Build the layout from settings (MMSIM_MEMORY, MMSIM_NUMA_NODES, MMSIM_PROFILE) or the
        arguments, and run the (idempotent) memory initialisation."""
        s = settings or Settings()
        layout = Layout.build(memory_bytes or s.memory_bytes, nodes or s.numa_nodes,
                              s.movable_bytes if movable_bytes is None else movable_bytes)
        svc = cls(redis, layout, profile or s.profile)
        await svc.buddy.init_memory(reset=reset)
        return svc

    async def reset(self) -> tuple[int, int]:
        """Flush the simulated machine: every ``mmsim:`` key but the boot epoch and the heartbeats goes in one
        script (reset.lua), then memmap and the free lists are initialised again as at boot (init_memory).
        (keys deleted, free pages)."""
        deleted = (await RESET(self.redis, pattern=f"{keys.PREFIX}:*", epoch=epoch.KEY, alive=keys.cluster("alive:"))).deleted
        await self.buddy.init_memory(reset=True)
        return deleted, sum(z["nr_free_pages"] for z in await self.buddy.zone_counters())

    # ---- pages ---------------------------------------------------------------------------
    async def alloc_pages(self, order: int, gfp: int | str = G.GFP_KERNEL, *, nid: int = 0, scope: int = 0,
                          ledger: tuple[str, str] = ("", "")) -> Allocation:
        return await self.buddy.alloc_pages(order, G.parse_gfp(gfp), nid=nid, scope=scope, ledger=ledger)

    async def free_pages(self, pfn: int, order: int) -> FreeResult:
        return await self.buddy.free_pages(pfn, order)

    async def release_folios(self, folios: list[tuple[int, int]]) -> int:
        """release_pages: free (pfn, order) blocks, one round trip per node and order; returns pages freed."""
        return await self.buddy.release_pages(folios)

    async def get_page(self, pfn: int) -> PageDescriptor:
        return await self.buddy.get_page(pfn)

    async def _page_op(self, op: str, pfn: int, arg: int = 0) -> int:
        self.buddy._check_pfn(pfn)
        node = self.layout.node_of_pfn(pfn)
        return (await PAGE_OP(self.redis, node=keys.node(node.nid, ""), node_start=node.start_pfn, node_end=node.end_pfn,
                              op=op, pfn=pfn, arg=arg)).result

    async def page_ref_add(self, pfn: int, delta: int) -> int:
        """get_page/put_page-style _refcount change; overflow-checked. Returns the new count."""
        return await self._page_op("ref_add", pfn, delta)

    async def try_get_page(self, pfn: int) -> bool:
        """try_get_page: False (and no change) when _refcount <= 0 or at INT_MAX."""
        return bool(await self._page_op("try_get", pfn))

    async def page_mapcount_add(self, pfn: int, delta: int) -> int:
        return await self._page_op("mapcount_add", pfn, delta)

    # ---- kvmalloc family -------------------------------------------------------------------
    async def kmalloc(self, size: int, gfp: int | str = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kv.kmalloc(size, G.parse_gfp(gfp), **kw)

    async def vmalloc(self, size: int, gfp: int | str = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kv.vmalloc(size, G.parse_gfp(gfp), **kw)

    async def kvmalloc(self, size: int, gfp: int | str = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kv.kvmalloc(size, G.parse_gfp(gfp), **kw)

    async def kvmalloc_array(self, n: int, size: int, gfp: int | str = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kv.kvmalloc_array(n, size, G.parse_gfp(gfp), **kw)

    async def kvcalloc(self, n: int, size: int, gfp: int | str = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kv.kvcalloc(n, size, G.parse_gfp(gfp), **kw)

    async def kvmalloc_struct(self, header: int, element: int, count: int, gfp: int | str = G.GFP_KERNEL, **kw) -> KvAllocation:
        return await self.kv.kvmalloc_struct(header, element, count, G.parse_gfp(gfp), **kw)

    async def kvfree(self, addr: int) -> None:
        await self.kv.kvfree(addr)

    async def malloc(self, size: int, **kw) -> KvAllocation:
        return await self.kv.malloc(size, **kw)

    async def free(self, addr: int) -> None:
        await self.kv.free(addr)

    # ---- /proc ------------------------------------------------------------------------------
    async def buddyinfo(self) -> str:
        return procfs.buddyinfo(await self.buddy.zone_counters())

    async def pagetypeinfo(self) -> str:
        return procfs.pagetypeinfo(await self.buddy.free_list_counts())

    async def vmstat(self) -> dict[str, int]:
        return procfs.vmstat_values(await self.buddy.zone_counters(), await self.buddy.vmstat_events())

    async def vmstat_text(self) -> str:
        return procfs.vmstat(await self.buddy.zone_counters(), await self.buddy.vmstat_events())

    async def node_vmstat(self) -> dict[int, dict[str, int]]:
        """Each node's own counters (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for n in self.layout.nodes:
            pipe.hgetall(keys.node(n.nid, "vmstat"))
        return {n.nid: {k.decode(): int(v) for k, v in h.items()} for n, h in zip(self.layout.nodes, await pipe.execute())}

    async def zoneinfo(self) -> tuple[str, list[dict]]:
        """/proc/zoneinfo text and the zones' counters."""
        zones = await self.buddy.zone_counters()
        return procfs.zoneinfo(zones, await self.node_vmstat()), zones

    async def _vmalloc_pages(self) -> int:
        total = 0
        for n in self.layout.nodes:
            v = await self.redis.hget(keys.node(n.nid, "kv:next"), "vmalloc_pages")
            total += int(v or 0)
        return total

    async def meminfo(self) -> dict[str, int]:
        return procfs.meminfo_values(await self.buddy.zone_counters(), await self._vmalloc_pages(),
                                     await self.buddy.vmstat_events())

    async def meminfo_text(self) -> str:
        return procfs.meminfo(await self.buddy.zone_counters(), await self._vmalloc_pages(),
                              await self.buddy.vmstat_events())

    async def fragmentation_index(self, order: int) -> dict[str, int]:
        return {f"{z['node']}:{z['zone']}": procfs.fragmentation_index(z, order) for z in await self.buddy.zone_counters()}

    # ---- fragmentation -----------------------------------------------------------------------
    async def fragment(self, nid: int = 0, zone: str | None = None, max_free_order: int = 0,
                       movable: bool = False) -> dict:
        return await frag.fragment(self.buddy, nid, zone, max_free_order, movable)

    async def unfragment(self, nid: int = 0) -> int:
        return await frag.unfragment(self.buddy, nid)
