"""ReverseMapService: thin gRPC wiring over mmsim.rmap.rmap (processes, VMAs) and mmsim.rmap.fault (faults)."""

from __future__ import annotations

from dataclasses import asdict

from mmsim.allocator.zones import Layout
from mmsim.rmap import smaps
from mmsim.rmap.debug_vm import RmapCheck
from mmsim.rmap.rmap import ACTION_NUMBERS, ReverseMap, prot_letters
from mmsim.runtime import serve, tracing
from mmsim.runtime.errors import require
from mmsim.v1 import common_pb2, reverse_map_pb2, reverse_map_pb2_grpc

MAX_IO = 16 << 20


def _pid(pid: int) -> int:
    require(pid > 0, f"pid must be positive, got {pid}")
    return pid


class ReverseMapServicer(reverse_map_pb2_grpc.ReverseMapServiceServicer):
    def __init__(self, ctx):
        self._rm = ReverseMap(ctx)
        self._faults = self._rm.faults

    async def Spawn(self, request, context):
        pid = await self._rm.spawn(request.comm, request.mapcount_limit, int(request.mapcount_action),
                                   request.max_map_count, request.count)  # fmt: skip
        return reverse_map_pb2.SpawnResponse(pid=pid, count=request.count or 1)

    async def Mmap(self, request, context):
        vma = await self._rm.mmap(_pid(request.pid), request.mapping, request.length, request.offset,
                                  prot_letters(request.prot), request.shared, request.addr, int(request.placement))  # fmt: skip
        return reverse_map_pb2.MmapResponse(start=vma.start, end=vma.end)

    async def Munmap(self, request, context):
        n = await self._rm.munmap(_pid(request.pid), request.addr, request.length)
        return reverse_map_pb2.MunmapResponse(pages_unmapped=n)

    async def HandleFault(self, request, context):
        res = await self._faults.handle_mm_fault(_pid(request.pid), request.address, request.write)
        trace_id, _ = tracing.current_ids()
        resp = reverse_map_pb2.HandleFaultResponse(
            vm_fault=res.vm_fault.to_proto(), pfn=res.pfn, pages_mapped=res.pages_mapped, major=res.major,
            spurious=res.spurious, trace_id=trace_id, pinned=res.pinned, zero_page=res.zero_page,
            pages_mapped_around=res.around_mapped, pmd=res.pmd)  # fmt: skip
        if res.folio is not None:
            resp.folio.CopyFrom(common_pb2.Folio(pfn=res.folio[0], order=res.folio[1], node=res.folio[2]))
        tracing.annotate(vm_fault=str(res.vm_fault))
        return resp

    async def ReadMemory(self, request, context):
        require(request.length <= MAX_IO, f"length must be at most {MAX_IO} bytes, got {request.length}")
        data, vmf, faults = await self._faults.read_memory(_pid(request.pid), request.address, request.length)
        return reverse_map_pb2.ReadMemoryResponse(data=data, vm_fault=vmf.to_proto(), faults=faults)

    async def WriteMemory(self, request, context):
        require(len(request.data) <= MAX_IO, f"data must be at most {MAX_IO} bytes, got {len(request.data)}")
        n, vmf, faults = await self._faults.write_memory(_pid(request.pid), request.address, request.data)
        return reverse_map_pb2.WriteMemoryResponse(written=n, vm_fault=vmf.to_proto(), faults=faults)

    async def UnmapMappingRange(self, request, context):
        n, vmas, freed = await self._rm.unmap_mapping_range(request.mapping, request.start, request.length,
                                                            request.even_cows)  # fmt: skip
        return reverse_map_pb2.UnmapMappingRangeResponse(pages_unmapped=n, vmas=vmas, folios_freed=freed)

    async def Exit(self, request, context):
        n, vmas, freed = await self._rm.exit(_pid(request.pid))
        return reverse_map_pb2.ExitResponse(pages_unmapped=n, vmas=vmas, folios_freed=freed)

    async def Fork(self, request, context):
        d = await self._rm.fork(_pid(request.pid))
        tracing.annotate(fork_child=d["pid"], ptes_copied=d["ptes"], cow_pages=d["cow"])
        return reverse_map_pb2.ForkResponse(pid=d["pid"], vmas=d["vmas"], ptes_copied=d["ptes"], cow_pages=d["cow"])

    async def Mprotect(self, request, context):
        d = await self._rm.mprotect(_pid(request.pid), request.addr, request.length, prot_letters(request.prot))
        return reverse_map_pb2.MprotectResponse(vmas_replaced=d["old"], vmas_now=d["new"], ptes_changed=d["ptes"])

    async def ProcMaps(self, request, context):
        lines = await self._rm.proc_maps(_pid(request.pid))
        return reverse_map_pb2.ProcMapsResponse(lines=lines, text="".join(line + "\n" for line in lines))

    async def ProcSmaps(self, request, context):
        vmas = await smaps.proc_smaps(self._rm.redis, _pid(request.pid))
        return reverse_map_pb2.ProcSmapsResponse(vmas=[reverse_map_pb2.SmapsVma(**asdict(v)) for v in vmas],
                                                 text=smaps.format_smaps(vmas))

    async def ProcStatus(self, request, context):
        h = await self._rm.proc_status(_pid(request.pid))
        return reverse_map_pb2.ProcStatusResponse(
            pid=request.pid, comm=h.get("comm", ""), state=h.get("state", ""), killed_reason=h.get("killed_reason", ""),
            min_flt=int(h.get("min_flt", 0)), maj_flt=int(h.get("maj_flt", 0)), rss_file=int(h.get("rss_file", 0)),
            rss_anon=int(h.get("rss_anon", 0)), map_count=int(h.get("map_count", 0)),
            max_map_count=int(h.get("max_map_count", 0)), mapcount_limit=int(h.get("mapcount_limit", 0)),
            mapcount_action=ACTION_NUMBERS.get(h.get("mapcount_action", ""), 0), nr_tasks=int(h.get("nr_tasks", 1)),
            pins=int(h.get("pins", 0)))  # fmt: skip

    async def FolioMapcount(self, request, context):
        d = await self._rm.folio_mapcount(request.node, request.pfn)
        resp = reverse_map_pb2.FolioMapcountResponse(
            folio_mapcount=d["folio_mapcount"], page_mapcount_raw=d["raw"], refcount=d["refcount"], pinned=d["pinned"],
            entire_mapcount=d["entire"], page_mapcount=d["page_mapcount"],
            folio=common_pb2.Folio(pfn=d["head"], order=d["order"], node=request.node))  # fmt: skip
        for pid, n in d["per_process"].items():
            resp.per_process[pid] = n
        return resp

    async def FolioMkclean(self, request, context):
        folios = [(f.folio.node, f.folio.pfn, f.folio.order, f.index) for f in request.folios]
        vmas, per = await self._rm.folio_mkclean(request.mapping, folios)
        tracing.annotate(mkclean_folios=len(folios), mkclean_ptes=sum(n for n, _ in per))
        return reverse_map_pb2.FolioMkcleanResponse(cleaned=[n for n, _ in per], pte_dirty=[d for _, d in per], vmas=vmas)


    async def MapMany(self, request, context):
        d = await self._rm.map_many(_pid(request.pid), request.mapping, request.offset, request.count,
                                    prot_letters(request.prot), request.shared, request.counter_bits)  # fmt: skip
        tracing.annotate(map_many=request.count, tasks=d["tasks"], killed=d["killed"], wraps=d["wraps"])
        head, order, node = d["folio"]
        return reverse_map_pb2.MapManyResponse(
            address=d["address"], mappings=d["mappings"], tasks=d["tasks"], killed=d["killed"], pinned=d["pinned"],
            saturated=d["saturated"], wraps=d["wraps"], mapcount_raw=d["mapcount"], refcount=d["refcount"],
            folio=common_pb2.Folio(pfn=head, order=order, node=node), killed_reason=d["killed_reason"])  # fmt: skip

    async def PinPages(self, request, context):
        d = await self._rm.pin_pages(_pid(request.pid), request.address, request.count)
        return reverse_map_pb2.PinPagesResponse(**d)


    async def RmapWalk(self, request, context):
        found = await self._rm.rmap_walk(request.node, request.pfn)
        return reverse_map_pb2.RmapWalkResponse(mappings=[reverse_map_pb2.RmapMapping(**m) for m in found],
                                                ptes=sum(m["vmas"] * m["tasks"] for m in found))


def register(server, ctx) -> list[str]:
    s = ctx.settings
    ctx.checker = RmapCheck(ctx.redis, Layout.build(s.memory_bytes, s.numa_nodes, s.movable_bytes)).check
    reverse_map_pb2_grpc.add_ReverseMapServiceServicer_to_server(ReverseMapServicer(ctx), server)
    return [reverse_map_pb2.DESCRIPTOR.services_by_name["ReverseMapService"].full_name]


if __name__ == "__main__":
    serve.run("rmap", register)
