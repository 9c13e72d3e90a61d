"""PageAllocatorService: thin gRPC wiring over mmsim.allocator.allocator.AllocatorService."""

from __future__ import annotations

import re

import structlog

from mmsim.allocator import gfp as G
from mmsim.allocator import compaction, debug_vm, lockdep, vmscan
from mmsim.allocator.allocator import AllocatorService
from mmsim.allocator.kvmalloc import KvAllocation
from mmsim.allocator.vmemmap import PageDescriptor
from mmsim.allocator.zones import PAGE_SHIFT
from mmsim.runtime import keys, locks, scope, serve, tracing
from mmsim.runtime.errors import InvalidArgument, require
from mmsim.runtime.wire import gfp_from_proto, gfp_to_proto
from mmsim.v1 import common_pb2, page_allocator_pb2 as pb, page_allocator_pb2_grpc

KERNEL = int(G.GFP_KERNEL)
_log = structlog.get_logger().bind(service="allocator")
_MAPPING_NAME = re.compile(r"/\* (\S+) \*/")


def _gfp(mask: common_pb2.GfpMask, default: int = KERNEL) -> int:
    return gfp_from_proto(mask) if mask.flags else default


def _node(node: int, svc: AllocatorService) -> int:
    nid = 0 if node == -1 else node
    require(0 <= nid < len(svc.layout.nodes), f"node {node} does not exist (nodes: 0..{len(svc.layout.nodes) - 1}, or -1)")
    return nid


def _kv(a: KvAllocation) -> pb.KvAllocation:
    out = pb.KvAllocation(addr=a.addr, size=a.size, kind=a.kind, node=a.nid, pfns=list(a.pfns), order=a.order,
                          gfp=gfp_to_proto(a.gfp_requested), fallback_reason=a.fallback_reason, steps=a.trace)
    if a.kmalloc_gfp is not None:
        out.kmalloc_gfp.CopyFrom(gfp_to_proto(a.kmalloc_gfp))
    tracing.annotate(kind=a.kind, fallback_reason=a.fallback_reason)
    if a.fallback_reason:   # kvmalloc's contiguous attempt failed: vmalloc instead
        tracing.event("fallback", to="vmalloc", reason=a.fallback_reason)
    return out


def _page_pb(page: PageDescriptor) -> pb.PageDescriptor:
    """The decoded struct page as typed wire fields (the union member in use decides which are set)."""
    w0, _, _, w3, w4 = page.words
    out = pb.PageDescriptor(pfn=page.pfn, node=page.node, zone=page.zone, flags=page.flag_names,
                            page_type=page.page_type, union_member=page.member, order=page.folio_order,
                            mapcount=page.mapcount, refcount=page.refcount, memcg=page.memcg)
    if page.member in ("page_cache", "anon"):
        named = _MAPPING_NAME.search(str(page.fields.get("mapping", "")))
        out.mapping, out.index, out.private = named.group(1) if named else "", w3, w4
    elif page.member == "buddy":
        out.private = w4
    elif page.member == "compound_tail":
        out.compound_head = w0 >> 1
    elif page.member == "owner_words":
        out.owner_words.extend(page.words)
    return out


class PageAllocatorServicer(page_allocator_pb2_grpc.PageAllocatorServiceServicer):
    def __init__(self, svc: AllocatorService):
        self.svc = svc

    async def _might_alloc(self, gfp: int) -> None:
        """might_alloc -> fs_reclaim_acquire: lockdep's check of the mask against the locks the call chain holds."""
        effective = G.current_gfp_context(gfp, int(scope.current()))
        claims = [h for h in locks.held() if h.name in locks.FS_LOCKS]
        # the claims are checked against Redis (one round trip), only when the check is armed
        real = await locks.verify(self.svc.redis, claims) if claims and lockdep.fs_reclaim_armed(effective) else []
        report = lockdep.fs_reclaim_check(effective, real)
        if report:
            _log.warning("lockdep", report=report, held_locks=[h.encode() for h in real])
            tracing.annotate(lockdep=report)
            tracing.event("lockdep", report=report, held_locks=", ".join(scope.held_locks()))
            await self.svc.redis.hincrby(keys.node(0, "vmstat"), "mmsim_lockdep_fs_reclaim", 1)
        elif scope.held_locks() and int(gfp) & int(G.GFP["__GFP_NOLOCKDEP"]):
            tracing.annotate(lockdep="not annotated: __GFP_NOLOCKDEP")

    async def AllocPages(self, request, context):
        gfp = _gfp(request.gfp)
        await self._might_alloc(gfp)
        purpose = request.in_flight_for
        require(len(purpose) <= 64 and ":" not in purpose,
                f"in_flight_for must be a short purpose without ':' (at most 64 characters), got {purpose[:80]!r}")
        ledger = (purpose, tracing.current_ids()[0]) if purpose else ("", "")
        alloc = await self.svc.alloc_pages(request.order, gfp, nid=_node(request.node, self.svc),
                                           scope=int(scope.current()), ledger=ledger)
        tracing.annotate(gfp_requested=G.format_gfp(gfp), gfp_effective=G.format_gfp(alloc.gfp), zone=alloc.zone,
                         attempts=alloc.attempts)
        return pb.AllocPagesResponse(folio=common_pb2.Folio(pfn=alloc.pfn, order=alloc.order, node=alloc.nid),
                                     effective_gfp=gfp_to_proto(alloc.gfp))

    async def FreePages(self, request, context):
        res = await self.svc.free_pages(request.pfn, request.order)
        return pb.FreePagesResponse(merged_order=res.merged_order)

    async def ReleaseFolios(self, request, context):
        pages = await self.svc.release_folios([(f.pfn, f.order) for f in request.folios])
        return pb.ReleaseFoliosResponse(folios_freed=len(request.folios), pages_freed=pages)

    async def GetPage(self, request, context):
        page = await self.svc.get_page(request.pfn)
        return pb.GetPageResponse(page=_page_pb(page), text=page.format())

    async def Kmalloc(self, request, context):
        await self._might_alloc(_gfp(request.gfp))
        a = await self.svc.kmalloc(request.size, _gfp(request.gfp), nid=_node(request.node, self.svc), scope=int(scope.current()))
        return pb.KmallocResponse(allocation=_kv(a))

    async def Vmalloc(self, request, context):
        await self._might_alloc(_gfp(request.gfp))
        a = await self.svc.vmalloc(request.size, _gfp(request.gfp), nid=_node(request.node, self.svc), scope=int(scope.current()))
        return pb.VmallocResponse(allocation=_kv(a))

    async def Kvmalloc(self, request, context):
        await self._might_alloc(_gfp(request.gfp))
        a = await self.svc.kvmalloc(request.size, _gfp(request.gfp), nid=_node(request.node, self.svc), scope=int(scope.current()))
        return pb.KvmallocResponse(allocation=_kv(a))

    async def KvmallocArray(self, request, context):
        call = self.svc.kvcalloc if request.zero else self.svc.kvmalloc_array
        a = await call(request.n, request.size, _gfp(request.gfp), scope=int(scope.current()))
        return pb.KvmallocArrayResponse(allocation=_kv(a))

    async def KvmallocStruct(self, request, context):
        a = await self.svc.kvmalloc_struct(request.header, request.element, request.count, _gfp(request.gfp),
                                           scope=int(scope.current()))
        return pb.KvmallocStructResponse(allocation=_kv(a))

    async def Kvfree(self, request, context):
        await self.svc.kvfree(request.addr)
        return pb.KvfreeResponse()

    async def Malloc(self, request, context):
        return pb.MallocResponse(allocation=_kv(await self.svc.malloc(request.size, scope=int(scope.current()))))

    async def Free(self, request, context):
        await self.svc.free(request.addr)
        return pb.FreeResponse()

    async def BuddyInfo(self, request, context):
        return pb.BuddyInfoResponse(text=await self.svc.buddyinfo())

    async def PageTypeInfo(self, request, context):
        return pb.PageTypeInfoResponse(text=await self.svc.pagetypeinfo())

    async def VmStat(self, request, context):
        return pb.VmStatResponse(text=await self.svc.vmstat_text(), values=await self.svc.vmstat())

    async def OutOfMemory(self, request, context):
        if self.svc.buddy.reclaim is None:   # MMSIM_RECLAIM=0: no OOM killer, the fault keeps its VM_FAULT_OOM
            return pb.OutOfMemoryResponse(message="reclaim is off (MMSIM_RECLAIM=0): no OOM killer")
        victim = await self.svc.buddy.reclaim.out_of_memory(0, -1)   # pagefault_out_of_memory: gfp 0, order -1
        if victim is None:
            return pb.OutOfMemoryResponse()
        return pb.OutOfMemoryResponse(killed=True, pid=victim.pid, message=victim.message, pages_freed=victim.pages_freed)

    async def ZoneInfo(self, request, context):
        text, zones = await self.svc.zoneinfo()
        return pb.ZoneInfoResponse(text=text, zones=[
            pb.ZoneWatermarks(node=z["node"], zone=z["zone"], free=z["nr_free_pages"], min=z["min"], low=z["low"],
                              high=z["high"], managed=z["managed"]) for z in zones])

    async def MemInfo(self, request, context):
        kb = 1 << (PAGE_SHIFT - 10)   # the service counts pages; the field is in kB, as the text is
        return pb.MemInfoResponse(text=await self.svc.meminfo_text(),
                                  values_kb={k: v * kb for k, v in (await self.svc.meminfo()).items()})

    async def Fragment(self, request, context):
        if request.max_free_order > 9:
            raise InvalidArgument(f"max_free_order must be 0..9, got {request.max_free_order}")
        res = await self.svc.fragment(request.node, request.zone or None, request.max_free_order, request.movable)
        return pb.FragmentResponse(pinned=res["pinned"], freed=res["freed"], zones=[str(z) for z in res["zones"]])

    async def Unfragment(self, request, context):
        return pb.UnfragmentResponse(freed=await self.svc.unfragment(request.node))

    async def Reset(self, request, context):
        deleted, free = await self.svc.reset()
        return pb.ResetResponse(keys_deleted=deleted, nodes=len(self.svc.layout.nodes), free_pages=free)


async def register(server, ctx) -> list[str]:
    svc = await AllocatorService.open(ctx.redis, ctx.settings)
    # page reclaim (MMSIM_RECLAIM=1): kswapd per node, direct reclaim and the OOM killer in the slow path
    if ctx.settings.reclaim:
        svc.buddy.reclaim = vmscan.Reclaimer(svc.buddy, ctx)
        svc.buddy.reclaim.start()
        ctx.on_close.append(svc.buddy.reclaim.stop)   # the in-process mode's loop outlives no kswapd task
        if ctx.settings.compaction:   # direct compaction for high orders (MMSIM_COMPACTION)
            svc.buddy.compactor = compaction.Compactor(svc.buddy, ctx.settings.xa_chunk_shift, vmscan.RECLAIM_LIBS)
    ctx.checker = lambda report: debug_vm.check(svc.buddy, report)
    page_allocator_pb2_grpc.add_PageAllocatorServiceServicer_to_server(PageAllocatorServicer(svc), server)
    return [pb.DESCRIPTOR.services_by_name["PageAllocatorService"].full_name]


if __name__ == "__main__":
    serve.run("allocator", register)
